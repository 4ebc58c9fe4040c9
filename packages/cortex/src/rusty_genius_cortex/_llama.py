"""The llama.cpp engine (extra ``llama``): llama-cpp-python, imported only when a model loads.

How a request runs:

1. The turn: up to ``LoadOptions.parallel`` requests (default 4, as Ollama's) run
   at once on one loaded model, each on its own sequence (slot) of one llama
   context of ``parallel * context_size`` tokens; loads and unloads wait for them
   (:class:`RequestQueue`).
2. Preparation, in a worker thread: chat messages are rendered with the model's
   own chat template from its GGUF metadata (``tokenizer.chat_template``,
   rendered by llama-cpp-python's ``Jinja2ChatFormatter`` exactly as its
   ``create_chat_completion`` does); ``raw=True`` sends a prompt as-is. The
   prompt is tokenized as llama-cpp-python tokenizes it, so token counts match
   its ``usage``. The request's tools and response format are planned here
   (``_output_plan.py``; ``_tool_mode.py``, imported only for a request that has
   them): a template that supports tools gets them; otherwise, and whenever a call
   is required, the tools go in the system prompt and a grammar
   (``_json_grammar.py``) admits only valid calls; a JSON response format is the
   grammar of its schema. llama.cpp parses the grammar here too. Errors (no
   template, a prompt that does not fit the context, a schema keyword the grammar
   cannot enforce) are raised here, before any event.
3. Generation: continuous batching in the model's one decoding thread
   (``_decode_loop.py``): every step decodes the next token of every running
   request plus a chunk of any prompt being evaluated in one ``llama_decode``,
   samples each request with its own sampler chain (with the grammar sampler in
   it when the plan has a grammar) and hands its events to the event loop through
   its own :class:`ThreadRelay`. Stop strings, EOG tokens, ``max_tokens``, the
   context's end and the stop flags end a request; the others go on. When tools
   are offered, :class:`ToolCallFilter` turns the calls in the text into
   ``ToolCallDelta`` events on the way out (``_tool_stream.py``).

Embeddings (``embed()``) run on a pooling context made on the loaded model at the
first request (``_llama_embed.py``), beside the decoding loop's context: the
weights are shared, read only.

Not ``create_completion(stream=True)``: it re-detokenizes the whole completion
on every token (quadratic), and serves one sequence. The decoding thread runs
while there is work and exits when there is none; a request's cleanup waits for
its own end (and for an idle thread to exit), on every path.

Cancellation: :class:`StopSignal` (or the consumer closing the stream, or its
task being cancelled) is checked before every step, so generation stops within
one step, also between the ``n_batch``-token chunks of prompt evaluation; the
async side waits, shielded, for the loop to end the request.
"""

from __future__ import annotations

import functools
import importlib
import random
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import anyio
import anyio.to_thread
import attrs

from rusty_genius_core import (
    ConfigError,
    ContextLengthError,
    EngineError,
    InferenceEvent,
    LoadOptions,
    ModelSpec,
)

from ._base import EngineBase, EngineRequest
from ._decode_loop import Arrival, DecodeLoop, Request
from ._engine import BACKEND_LLAMA, REAL_ENGINE_HINT, StopSignal
from ._gguf import read_gguf_info
from ._llama_adapters import native_adapters
from ._llama_chat import render_prompt, tool_style_of
from ._llama_decode import Job, LoadedModel, merge_batch
from ._llama_grammar import check_grammar
from ._output_plan import output_plan
from ._pipeline import TokenPipeline
from ._prompt_cache import DEFAULT_CACHE_RAM, PromptCache
from ._relay import ThreadRelay
from ._think import prompt_opens_thinking

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable
    from types import ModuleType

    from ._embedding import EmbedRequest, RawEmbeddings
    from ._llama_embed import EmbeddingContext
    from ._usage import UsageMeter

__all__ = ["LlamaEngine", "import_llama_cpp"]

DEFAULT_CONTEXT_SIZE: Final = 4096
DEFAULT_PARALLEL: Final = 4  # sequences per model, as Ollama's OLLAMA_NUM_PARALLEL
_THREAD_PREFIX: Final = "cortex-llama"
_SEED_SPACE: Final = (1 << 32) - 1  # llama.cpp reads 0xFFFFFFFF as "pick a random seed"


def import_llama_cpp() -> ModuleType:
    """The ``llama_cpp`` module, or :class:`EngineError` saying how to install it."""
    try:
        return importlib.import_module("llama_cpp")
    except ImportError as exc:
        raise EngineError(
            f"the llama backend needs llama-cpp-python: {REAL_ENGINE_HINT} (import failed: {exc})"
        ) from exc


class LlamaEngine(EngineBase[Job]):
    """llama.cpp through llama-cpp-python (``backend == "llama"``).

    ``default_context_size`` applies when :class:`LoadOptions` leaves the context
    size open (capped by the model's training context): it is each sequence's;
    ``default_parallel`` when it leaves ``parallel`` open, ``default_threads`` when it
    leaves ``threads`` open (``None``: llama-cpp-python's choice); ``n_batch`` is the
    tokens of one decoding step (generated tokens and prompt chunks together);
    ``cache_ram`` bounds the bytes of prompts kept in host memory after their slot
    moved on (llama-server's ``--cache-ram``; 0 keeps none; see :mod:`._prompt_cache`);
    ``relay_capacity`` is kept for compatibility (the decoding loop never waits
    for one consumer); ``verbose`` lets llama.cpp log to stderr.
    """

    _backend = BACKEND_LLAMA
    _supports_tools = True
    _supports_json = True
    _supports_adapters = True

    def __init__(
        self,
        *,
        default_context_size: int = DEFAULT_CONTEXT_SIZE,
        default_parallel: int = DEFAULT_PARALLEL,
        default_threads: int | None = None,
        n_batch: int = 512,
        relay_capacity: int = 256,
        cache_ram: int = DEFAULT_CACHE_RAM,
        verbose: bool = False,
    ) -> None:
        if (
            default_context_size < 16
            or n_batch < 1
            or relay_capacity < 1
            or default_parallel < 1
            or cache_ram < 0
        ):
            raise ConfigError(
                "LlamaEngine needs default_context_size >= 16, default_parallel >= 1, "
                f"n_batch >= 1, relay_capacity >= 1 and cache_ram >= 0, got "
                f"{default_context_size}, {default_parallel}, {n_batch}, {relay_capacity}, "
                f"{cache_ram}"
            )
        super().__init__()
        self._default_context_size = default_context_size
        self._default_parallel = default_parallel
        self._default_threads = default_threads
        self._n_batch = n_batch
        self._relay_capacity = relay_capacity
        self._cache_ram = cache_ram
        self._verbose = verbose
        self._model: LoadedModel | None = None
        self._embedder: EmbeddingContext | None = None  # made on the first embed()
        self._embedding = threading.Lock()  # one embed() at a time on that context

    @property
    def context_size(self) -> int | None:
        """One request's context on the loaded model (tokens), or ``None``."""
        model = self._model
        return None if model is None else model.n_ctx

    # -- EngineBase hooks ----------------------------------------------------------------------

    def _clock(self) -> Callable[[], float]:
        return time.perf_counter

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
        loop = loaded.loop
        if loop is None:
            raise EngineError(f"model {loaded.name!r} was unloaded")
        # Announced before templating and tokenizing: an idle loop waits for it (a little),
        # so that requests arriving together start in one batch.
        arrival = loop.expect()
        try:
            return await anyio.to_thread.run_sync(self._prepare_sync, loaded, request, arrival)
        except BaseException:
            loop.withdraw(arrival)
            raise

    def _dismiss(self, job: Job) -> None:
        loop = job.model.loop
        if loop is not None:
            loop.withdraw(job.arrival)

    async def _generate(
        self, job: Job, meter: UsageMeter, stop: StopSignal | None
    ) -> AsyncGenerator[InferenceEvent, None]:
        loop = job.model.loop
        if loop is None:
            raise EngineError(f"model {job.model.name!r} was unloaded")
        pipeline = TokenPipeline(
            job.config,
            meter=meter,
            start_in_thinking=job.start_in_thinking,
            extra_stops=job.extra_stops,
        )
        tools = None
        if job.plan.style is not None:
            from ._tool_stream import ToolCallFilter  # only for a request with tools

            tools = ToolCallFilter(job.plan)
        relay: ThreadRelay[InferenceEvent] = ThreadRelay(self._relay_capacity)
        halt = StopSignal()  # set when the consumer goes away
        loop.submit(Request(job=job, pipeline=pipeline, relay=relay, stop=stop, halt=halt))
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
            loop.wake()
            with anyio.CancelScope(shield=True):
                await relay.wait_finished()
                if loop.exiting():  # no thread hop on the common path, before Complete
                    await anyio.to_thread.run_sync(loop.settle)

    async def _embed(self, model: str, request: EmbedRequest) -> RawEmbeddings:
        loaded = self._model
        if loaded is None:
            raise EngineError("LlamaEngine has no model loaded; call load() first")
        return await anyio.to_thread.run_sync(self._embed_sync, loaded, request)

    def _embed_sync(self, model: LoadedModel, request: EmbedRequest) -> RawEmbeddings:
        with self._embedding:
            if model.loop is None:
                raise EngineError(f"model {model.name!r} was unloaded")
            if self._embedder is None:
                from ._llama_embed import EmbeddingContext  # on the first embed()

                self._embedder = EmbeddingContext(
                    model.lib, model.model, model.ctx.params, model.n_ctx, verbose=self._verbose
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
        n_slots = options.parallel or self._default_parallel
        if options.threads is None and self._default_threads is not None:
            options = attrs.evolve(options, threads=self._default_threads)
        gpu_layers = options.gpu_layers
        if gpu_layers is None:
            gpu_layers = -1 if lib.llama_supports_gpu_offload() else 0
        try:
            model, ctx = _open_native(
                lib, path, options, n_ctx, n_slots, self._n_batch, gpu_layers, self._verbose
            )
        except Exception as exc:  # llama-cpp-python raises ValueError/RuntimeError
            from ._diagnose import tensor_data_problem  # the tensor table: only on a failure

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
            loaded = self._describe(name, path, model, ctx, lib, options, n_slots)
            loaded.loop = DecodeLoop(
                loaded, f"{_THREAD_PREFIX}:{name}", PromptCache(self._cache_ram)
            )
        except BaseException:
            ctx.close()
            model.close()
            raise
        self._parallel = n_slots
        return loaded

    def _describe(
        self,
        name: str,
        path: Path,
        model: Any,
        ctx: Any,
        lib: ModuleType,
        options: LoadOptions,
        n_slots: int,
    ) -> LoadedModel:
        vocab = model.vocab
        metadata = model.metadata()
        template = options.chat_template or metadata.get("tokenizer.chat_template")
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
                eos_token=text_of(model.token_eos()),
                bos_token=text_of(model.token_bos()),
                stop_token_ids=[model.token_eos()],
            )
        tool_style = None if formatter is None else tool_style_of(formatter, str(template))
        seed = options.seed if options.seed is not None else random.randrange(_SEED_SPACE)
        native = model.model
        # A recurrent state cannot be cut back to a prefix. A sliding window can, while the
        # cells it looks back on are still there (the decode loop checks, as llama-server).
        can_reuse = not (lib.llama_model_is_recurrent(native) or lib.llama_model_is_hybrid(native))
        return LoadedModel(
            name=name,
            path=path,
            model=model,
            ctx=ctx,
            lib=lib,
            vocab=vocab,
            n_vocab=int(lib.llama_vocab_n_tokens(vocab)),
            n_ctx=int(lib.llama_n_ctx_seq(ctx.ctx)),
            n_slots=n_slots,
            n_batch=int(lib.llama_n_batch(ctx.ctx)),
            can_reuse=can_reuse,
            n_swa=max(0, int(lib.llama_model_n_swa(native))),
            formatter=formatter,
            rng=random.Random(seed),
            tool_style=tool_style,
        )

    def _unload_sync(self) -> None:
        with self._embedding:
            embedder, self._embedder = self._embedder, None
            if embedder is not None:
                embedder.close()  # before the model it was made on
        model, self._model = self._model, None
        if model is not None:
            loop, model.loop = model.loop, None
            if loop is not None:
                loop.close()
            model.pieces.clear()
            model.eogs.clear()
            model.ctx.close()
            model.model.close()

    # -- one request --------------------------------------------------------------------------

    def _prepare_sync(
        self, model: LoadedModel, request: EngineRequest, arrival: Arrival | None = None
    ) -> Job:
        """Render and tokenize the prompt; check that it fits (worker thread)."""
        config = request.config
        plan = output_plan(request, model.tool_style)  # SchemaError (400): not enforceable
        if model.loop is None:
            raise EngineError(f"model {model.name!r} was unloaded")
        # Templating and tokenizing read the model only: they run beside the decoding loop.
        rendered = render_prompt(
            model.name,
            model.path.name,
            model.formatter,
            request,
            plan,
            native_history=model.tool_style is not None,
        )
        text = rendered.text
        tokens: list[int] = model.model.tokenize(text.encode("utf-8"), rendered.add_bos, True)
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
        adapters, adapter_key = native_adapters(model, request.adapters)
        return Job(
            model=model,
            config=config,
            tokens=tokens,
            limit=min(config.max_tokens, n_ctx - len(tokens)),
            start_in_thinking=prompt_opens_thinking(text),
            extra_stops=rendered.stops,
            seed=seed,
            reuse=model.can_reuse
            and (config.cache_prompt if config.cache_prompt is not None else config.seed is None),
            grammar=plan.grammar,
            plan=plan,
            adapters=adapters,
            adapter_key=adapter_key,
            arrival=arrival,
        )


def _open_native(
    lib: ModuleType,
    path: Path,
    options: LoadOptions,
    n_ctx: int,
    n_slots: int,
    n_batch: int,
    gpu_layers: int,
    verbose: bool,
) -> tuple[Any, Any]:
    """The llama model and a context of ``n_slots`` sequences of ``n_ctx`` tokens each.

    As ``Llama.__init__`` does it (logging, backend, model and context parameters),
    but with ``n_seq_max = n_slots`` and ``n_ctx = n_slots * n_ctx``: llama-cpp-python's
    ``Llama`` serves one sequence. Threads default as ``Llama``'s: half the CPUs for
    generation, all of them for prompts.
    """
    from llama_cpp import _internals
    from llama_cpp._logger import set_verbose
    from llama_cpp._utils import suppress_stdout_stderr

    set_verbose(verbose)
    with suppress_stdout_stderr(disable=verbose):
        _init_backend(lib)
    model_params = lib.llama_model_default_params()
    model_params.n_gpu_layers = 0x7FFFFFFF if gpu_layers == -1 else gpu_layers
    model = _internals.LlamaModel(path_model=str(path), params=model_params, verbose=verbose)
    try:
        import multiprocessing  # llama_cpp has imported it by now; not at start-up

        cpus = multiprocessing.cpu_count()
        params = lib.llama_context_default_params()
        params.n_ctx = n_ctx * n_slots
        params.n_seq_max = n_slots
        params.kv_unified = False  # each sequence its own cells: n_ctx apiece, no crosstalk
        params.n_batch = params.n_ubatch = max(n_slots, min(n_batch, n_ctx * n_slots))
        params.n_threads = options.threads or max(cpus // 2, 1)
        params.n_threads_batch = options.threads_batch or options.threads or cpus
        params.no_perf = False
        # As Llama's default: llama.cpp's own default (auto) changes the numerics on CPU.
        params.flash_attn_type = lib.LLAMA_FLASH_ATTN_TYPE_DISABLED
        with suppress_stdout_stderr(disable=verbose):
            ctx = _internals.LlamaContext(model=model, params=params, verbose=verbose)
    except BaseException:
        model.close()
        raise
    return model, ctx


@functools.cache
def _init_backend(lib: ModuleType) -> None:
    """``llama_backend_init()``, once per process (as ``Llama`` does)."""
    lib.llama_backend_init()
