"""The llama.cpp engine (extra ``llama``): llama-cpp-python, imported only when a model loads.

How a request runs:

1. The turn: requests on one engine run one after another (:class:`RequestQueue`),
   and every touch of the ``Llama`` object happens under one thread lock.
2. Preparation, in a worker thread: chat messages are rendered with the model's
   own chat template from its GGUF metadata (``tokenizer.chat_template``,
   rendered by llama-cpp-python's ``Jinja2ChatFormatter`` exactly as its
   ``create_chat_completion`` does); ``raw=True`` sends a prompt as-is. The
   prompt is tokenized as llama-cpp-python tokenizes it, so token counts match
   its ``usage``. The request's tools and response format are planned here
   (``_tool_mode.py``): a template that supports tools gets them; otherwise, and
   whenever a call is required, the tools go in the system prompt and a grammar
   (``_json_grammar.py``) admits only valid calls; a JSON response format is the
   grammar of its schema. llama.cpp parses the grammar here too. Errors (no
   template, a prompt that does not fit the context, a schema keyword the grammar
   cannot enforce) are raised here, before any event.
3. Generation, in one dedicated thread per request (``_llama_decode.py``): it drives
   ``Llama.generate`` token by token (sampling by llama.cpp's sampler chain,
   with the grammar sampler in it when the plan has a grammar),
   turns each token into text through a per-model piece cache and an
   incremental UTF-8 decoder, runs the shared :class:`TokenPipeline` and hands
   the events to the event loop through a :class:`ThreadRelay`. Stop strings,
   EOG tokens, ``max_tokens``, the context's end and the stop flags end it; the
   thread closes llama-cpp-python's generator itself, still holding the lock.
   When tools are offered, :class:`ToolCallFilter` turns the calls in the text
   into ``ToolCallDelta`` events on the way out (``_tool_stream.py``).

Embeddings (``embed()``) run on a pooling context made on the loaded model at the
first request (``_llama_embed.py``), under the same lock.

Not ``create_completion(stream=True)``: it re-detokenizes the whole completion
on every token (quadratic), which costs more than the decode of a small model
on a GPU. A dedicated thread rather than ``anyio.to_thread.run_sync``: the
worker must outlive each ``__anext__`` of the async generator, and an async
generator cannot hold a task group across ``yield``; the thread is still
joined before the request's turn ends, on every path.

Cancellation: :class:`StopSignal` (or the consumer closing the stream, or its
task being cancelled) is checked between tokens, so generation stops within
one token's time, and between the ``n_batch``-token chunks of prompt
evaluation; the async side waits, shielded, for the thread to finish.
"""

from __future__ import annotations

import importlib
import random
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import anyio
import anyio.to_thread

from rusty_genius_core import (
    ConfigError,
    ContextLengthError,
    EngineError,
    InferenceEvent,
    LoadOptions,
    ModelSpec,
)

from ._base import EngineBase, EngineRequest
from ._diagnose import tensor_data_problem
from ._engine import BACKEND_LLAMA, StopSignal
from ._gguf import read_gguf_info
from ._llama_chat import render_prompt, tool_style_of
from ._llama_decode import Job, LoadedModel, merge_batch, run_decode
from ._llama_embed import EmbeddingContext
from ._llama_grammar import check_grammar
from ._pipeline import TokenPipeline
from ._relay import ThreadRelay
from ._think import prompt_opens_thinking
from ._tool_mode import plan_output
from ._tool_stream import ToolCallFilter

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator
    from types import ModuleType

    from ._embedding import EmbedRequest, RawEmbeddings
    from ._usage import UsageMeter

__all__ = ["LlamaEngine", "import_llama_cpp"]

DEFAULT_CONTEXT_SIZE: Final = 4096
_THREAD_PREFIX: Final = "cortex-llama"
_SEED_SPACE: Final = (1 << 32) - 1  # llama.cpp reads 0xFFFFFFFF as "pick a random seed"


def import_llama_cpp() -> ModuleType:
    """The ``llama_cpp`` module, or :class:`EngineError` saying how to install it."""
    try:
        return importlib.import_module("llama_cpp")
    except ImportError as exc:
        raise EngineError(
            "the llama backend needs llama-cpp-python: install rusty-genius-cortex[llama] "
            f"(import failed: {exc})"
        ) from exc


class LlamaEngine(EngineBase[Job]):
    """llama.cpp through llama-cpp-python (``backend == "llama"``).

    ``default_context_size`` applies when :class:`LoadOptions` leaves the context
    size open (capped by the model's training context); ``n_batch`` is
    llama.cpp's prompt batch; ``relay_capacity`` bounds the events buffered
    ahead of a slow consumer; ``verbose`` lets llama.cpp log to stderr.
    """

    _backend = BACKEND_LLAMA
    _supports_tools = True
    _supports_json = True

    def __init__(
        self,
        *,
        default_context_size: int = DEFAULT_CONTEXT_SIZE,
        n_batch: int = 512,
        relay_capacity: int = 256,
        verbose: bool = False,
    ) -> None:
        if default_context_size < 16 or n_batch < 1 or relay_capacity < 1:
            raise ConfigError(
                "LlamaEngine needs default_context_size >= 16, n_batch >= 1 and "
                f"relay_capacity >= 1, got {default_context_size}, {n_batch}, {relay_capacity}"
            )
        super().__init__()
        self._default_context_size = default_context_size
        self._n_batch = n_batch
        self._relay_capacity = relay_capacity
        self._verbose = verbose
        self._model: LoadedModel | None = None
        self._embedder: EmbeddingContext | None = None  # made on the first embed()
        self._lock = threading.Lock()  # guards the Llama object itself

    @property
    def context_size(self) -> int | None:
        """The loaded model's context (tokens), or ``None``."""
        model = self._model
        return None if model is None else model.n_ctx

    # -- EngineBase hooks ----------------------------------------------------------------------

    def _now(self) -> float:
        return time.perf_counter()

    def _check_load(self, name: str, path: Path | None) -> None:
        if path is None:
            raise EngineError(f"LlamaEngine needs the path of a GGUF file to load {name!r}")

    async def _load_model(
        self, name: str, path: Path | None, options: LoadOptions, spec: ModelSpec | None
    ) -> None:
        """Load the GGUF at ``path``, unloading any other model first."""
        assert path is not None  # _check_load
        await anyio.to_thread.run_sync(self._unload_sync)
        self._model = await anyio.to_thread.run_sync(self._load_sync, name, Path(path), options)

    async def _unload_model(self) -> None:
        """Free the model (``Llama.close()``); idempotent."""
        await anyio.to_thread.run_sync(self._unload_sync)

    async def _prepare(self, model: str, request: EngineRequest) -> Job:
        loaded = self._model
        if loaded is None:
            raise EngineError("LlamaEngine has no model loaded; call load() first")
        return await anyio.to_thread.run_sync(self._prepare_sync, loaded, request)

    async def _generate(
        self, job: Job, meter: UsageMeter, stop: StopSignal | None
    ) -> AsyncGenerator[InferenceEvent, None]:
        pipeline = TokenPipeline(
            job.config,
            meter=meter,
            start_in_thinking=job.start_in_thinking,
            extra_stops=job.extra_stops,
        )
        tools = ToolCallFilter(job.plan) if job.plan.style is not None else None
        relay: ThreadRelay[InferenceEvent] = ThreadRelay(self._relay_capacity)
        halt = StopSignal()  # set when the consumer goes away
        worker = threading.Thread(
            target=run_decode,
            args=(job, self._lock, pipeline, relay, stop, halt),
            name=f"{_THREAD_PREFIX}:{job.model.name}",
        )
        worker.start()
        try:
            while batch := await relay.get():
                for event in merge_batch(batch):
                    if tools is None:
                        yield event
                    else:
                        for out in tools.events(event):
                            yield out
        finally:
            halt.set()
            relay.close()
            with anyio.CancelScope(shield=True):
                await relay.wait_finished()
            worker.join()  # it returned right after finish(): no wait to speak of

    async def _embed(self, model: str, request: EmbedRequest) -> RawEmbeddings:
        loaded = self._model
        if loaded is None:
            raise EngineError("LlamaEngine has no model loaded; call load() first")
        return await anyio.to_thread.run_sync(self._embed_sync, loaded, request)

    def _embed_sync(self, model: LoadedModel, request: EmbedRequest) -> RawEmbeddings:
        with self._lock:
            if model.llm is None:
                raise EngineError(f"model {model.name!r} was unloaded")
            if self._embedder is None:
                self._embedder = EmbeddingContext(
                    model.lib, model.llm, model.n_ctx, verbose=self._verbose
                )
            return self._embedder.embed(request)

    # -- load / unload (worker threads) -------------------------------------------------------

    def _load_sync(self, name: str, path: Path, options: LoadOptions) -> LoadedModel:
        if not path.exists():
            raise EngineError(f"model file not found: {path}")
        if not path.is_file():
            raise EngineError(f"model path is not a file: {path}")
        info = read_gguf_info(path)  # magic, version, metadata: EngineError naming the path
        lib = import_llama_cpp()
        n_ctx = options.context_size or min(
            self._default_context_size, info.context_length or self._default_context_size
        )
        gpu_layers = options.gpu_layers
        if gpu_layers is None:
            gpu_layers = -1 if lib.llama_supports_gpu_offload() else 0
        kwargs: dict[str, Any] = {
            "model_path": str(path),
            "n_ctx": n_ctx,
            "n_batch": min(self._n_batch, n_ctx),
            "n_gpu_layers": gpu_layers,
            "verbose": self._verbose,
        }
        if options.threads is not None:
            kwargs["n_threads"] = kwargs["n_threads_batch"] = options.threads
        if options.seed is not None:
            kwargs["seed"] = options.seed
        with self._lock:
            try:
                llm = lib.Llama(**kwargs)
            except Exception as exc:  # llama-cpp-python raises ValueError/RuntimeError
                alignment = info.metadata.get("general.alignment", 32)
                cause = tensor_data_problem(
                    path,
                    info.metadata_end,
                    info.tensor_count,
                    alignment if isinstance(alignment, int) else 32,
                )
                detail = f"{cause}; " if cause else ""
                raise EngineError(
                    f"llama.cpp could not load {path}: {detail}{type(exc).__name__}: {exc}"
                ) from exc
            try:
                return self._describe(name, path, llm, lib, options)
            except BaseException:
                llm.close()
                raise

    def _describe(
        self, name: str, path: Path, llm: Any, lib: ModuleType, options: LoadOptions
    ) -> LoadedModel:
        vocab = lib.llama_model_get_vocab(llm.model)
        template = llm.metadata.get("tokenizer.chat_template")
        formatter = None
        if isinstance(template, str) and template.strip():
            from llama_cpp import llama_chat_format

            def text_of(token: int) -> str:
                if token < 0:
                    return ""
                raw: bytes = lib.llama_vocab_get_text(vocab, token)
                return raw.decode("utf-8", errors="replace")

            # As Llama.__init__ builds its "chat_template.default" handler.
            formatter = llama_chat_format.Jinja2ChatFormatter(
                template=template,
                eos_token=text_of(llm.token_eos()),
                bos_token=text_of(llm.token_bos()),
                stop_token_ids=[llm.token_eos()],
            )
        tool_style = None if formatter is None else tool_style_of(formatter, str(template))
        seed = options.seed if options.seed is not None else random.randrange(_SEED_SPACE)
        return LoadedModel(
            name=name,
            path=path,
            llm=llm,
            lib=lib,
            vocab=vocab,
            n_ctx=int(llm.n_ctx()),
            formatter=formatter,
            rng=random.Random(seed),
            tool_style=tool_style,
        )

    def _unload_sync(self) -> None:
        with self._lock:
            model, self._model = self._model, None
            embedder, self._embedder = self._embedder, None
            if embedder is not None:
                embedder.close()  # before the model it was made on
            if model is not None:
                llm, model.llm = model.llm, None
                model.pieces.clear()
                model.eogs.clear()
                llm.close()

    # -- one request --------------------------------------------------------------------------

    def _prepare_sync(self, model: LoadedModel, request: EngineRequest) -> Job:
        """Render and tokenize the prompt; check that it fits (worker thread)."""
        config = request.config
        plan = plan_output(
            request, model.tool_style
        )  # SchemaError (400) for what cannot be enforced
        with self._lock:
            llm = model.llm
            if llm is None:
                raise EngineError(f"model {model.name!r} was unloaded")
            rendered = render_prompt(
                model.name,
                model.path.name,
                model.formatter,
                request,
                plan,
                native_history=model.tool_style is not None,
            )
            text = rendered.text
            tokens: list[int] = llm.tokenize(
                text.encode("utf-8"), add_bos=rendered.add_bos, special=True
            )
            if plan.grammar is not None:
                check_grammar(model.lib, model.vocab, plan.grammar)
        if not tokens:
            raise EngineError("the prompt is empty: there is nothing to continue")
        n_ctx = model.n_ctx
        if config.context_size is not None:
            if config.context_size > model.n_ctx:
                raise EngineError(
                    f"InferenceConfig.context_size {config.context_size} exceeds the context "
                    f"of {model.name!r} as loaded ({model.n_ctx} tokens); reload it with "
                    f"LoadOptions(context_size={config.context_size})"
                )
            n_ctx = config.context_size
        if len(tokens) >= n_ctx:
            raise ContextLengthError(
                f"the prompt is {len(tokens)} tokens but the context of {model.name!r} holds "
                f"{n_ctx}: shorten it or load the model with a larger LoadOptions.context_size"
            )
        seed = config.seed if config.seed is not None else model.rng.randrange(_SEED_SPACE)
        return Job(
            model=model,
            config=config,
            tokens=tokens,
            limit=min(config.max_tokens, n_ctx - len(tokens)),
            start_in_thinking=prompt_opens_thinking(text),
            extra_stops=rendered.stops,
            seed=seed,
            grammar=plan.grammar,
            plan=plan,
        )
