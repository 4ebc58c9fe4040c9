"""Embeddings on a loaded llama.cpp model: a second context, made for pooling.

:class:`EmbeddingContext` is a ``llama_context`` on the model already loaded for
generation (no second copy of the weights), with embeddings on and the pooling
the GGUF names (``{arch}.pooling_type``; mean when it names none, or ``none``,
since one vector per text is wanted). Texts are tokenized as llama-cpp-python's
``Llama.embed`` tokenizes them and packed, one sequence each, into batches of
up to a context's worth of tokens, so a batch of inputs costs one ``llama_decode``
per context-full; the vectors are read per sequence (``llama_get_embeddings_seq``)
and left unnormalised (``EngineBase`` normalises them). A text longer than the
context is :class:`~rusty_genius_core.ContextLengthError` unless ``truncate``,
which keeps its first tokens, as Ollama does.

Every call runs in a worker thread, one at a time (the engine's embedding lock); the
decoding loop's context goes on beside it on the same, read-only weights.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Final

from rusty_genius_core import ConfigError, ContextLengthError, EngineError, UnsupportedError

from ._embedding import RawEmbeddings

if TYPE_CHECKING:
    from types import ModuleType

    from ._embedding import EmbedRequest

__all__ = ["EmbeddingContext", "pooling_of"]

_POOLING_NONE: Final = 0
_POOLING_MEAN: Final = 1
_POOLING_RANK: Final = 4
POOLING_NAMES: Final = {0: "none", 1: "mean", 2: "cls", 3: "last", 4: "rank"}


def pooling_of(metadata: dict[str, Any]) -> int:
    """The pooling type (llama.cpp's enum) the GGUF metadata names; mean by default."""
    arch = metadata.get("general.architecture")
    value = metadata.get(f"{arch}.pooling_type")
    try:
        pooling = int(value) if value is not None else _POOLING_MEAN
    except (TypeError, ValueError):
        pooling = _POOLING_MEAN
    if pooling == _POOLING_RANK:
        raise UnsupportedError("this model is a reranker (pooling 'rank'): it makes no embeddings")
    return _POOLING_MEAN if pooling <= _POOLING_NONE or pooling not in POOLING_NAMES else pooling


class EmbeddingContext:
    """A pooling context on ``model`` (llama-cpp-python's ``LlamaModel``), ``n_ctx`` tokens
    per batch, with the generation context's ``context_params`` otherwise (threads)."""

    def __init__(
        self, lib: ModuleType, model: Any, context_params: Any, n_ctx: int, *, verbose: bool = False
    ) -> None:
        from llama_cpp import _internals
        from llama_cpp._utils import suppress_stdout_stderr

        self.pooling = pooling_of(dict(model.metadata()))
        self.n_ctx = n_ctx
        self._lib = lib
        self._model = model
        self._n_embd = int(model.n_embd())
        params = type(context_params).from_buffer_copy(context_params)
        params.n_ctx = params.n_batch = params.n_ubatch = n_ctx
        self._n_seq = max(1, min(n_ctx, int(lib.llama_max_parallel_sequences())))
        params.n_seq_max = self._n_seq
        params.kv_unified = True
        params.embeddings = True
        params.pooling_type = self.pooling
        self._stack = contextlib.ExitStack()
        self._ctx: Any
        self._batch: Any
        try:
            with suppress_stdout_stderr(disable=verbose):  # llama.cpp logs, as Llama() hides them
                self._ctx = self._stack.enter_context(
                    contextlib.closing(
                        _internals.LlamaContext(model=model, params=params, verbose=False)
                    )
                )
            self._batch = self._stack.enter_context(
                contextlib.closing(
                    _internals.LlamaBatch(
                        n_tokens=n_ctx, embd=0, n_seq_max=self._n_seq, verbose=False
                    )
                )
            )
        except Exception as exc:
            self._stack.close()
            raise EngineError(f"llama.cpp could not make an embedding context: {exc}") from exc

    def close(self) -> None:
        self._stack.close()

    def tokens(self, request: EmbedRequest) -> list[list[int]]:
        """Each text's tokens, cut or refused when longer than the context."""
        out = []
        for i, text in enumerate(request.inputs):
            # as Llama.embed tokenizes: a BOS, no special tokens parsed
            tokens: list[int] = self._model.tokenize(text.encode("utf-8"), True, False)
            if not tokens:
                raise ConfigError(f"input {i} is empty: there is nothing to embed")
            if len(tokens) > self.n_ctx:
                if not request.truncate:
                    raise ContextLengthError(
                        f"input {i} is {len(tokens)} tokens but the context holds "
                        f"{self.n_ctx}: shorten it, or ask for truncation (truncate=True)"
                    )
                tokens = tokens[: self.n_ctx]
            out.append(tokens)
        return out

    def embed(self, request: EmbedRequest) -> RawEmbeddings:
        """One pooled vector per input, and the tokens each took."""
        all_tokens = self.tokens(request)
        vectors: list[tuple[float, ...]] = []
        group: list[list[int]] = []
        used = 0
        for tokens in all_tokens:
            if group and (used + len(tokens) > self.n_ctx or len(group) >= self._n_seq):
                vectors.extend(self._decode(group))
                group, used = [], 0
            group.append(tokens)
            used += len(tokens)
        if group:
            vectors.extend(self._decode(group))
        return RawEmbeddings(tuple(vectors), tuple(len(t) for t in all_tokens))

    def _decode(self, group: list[list[int]]) -> list[tuple[float, ...]]:
        lib, batch = self._lib, self._batch
        batch.reset()
        for seq, tokens in enumerate(group):
            batch.add_sequence(tokens, seq, True)
        self._ctx.kv_cache_clear()
        try:
            self._ctx.decode(batch)
        finally:
            batch.reset()
        out = []
        n = self._n_embd
        for seq in range(len(group)):
            ptr = lib.llama_get_embeddings_seq(self._ctx.ctx, seq)
            if not ptr:
                raise EngineError("llama.cpp returned no embedding for a sequence")
            out.append(tuple(ptr[:n]))
        self._ctx.kv_cache_clear()
        return out
