"""One request's llama.cpp sampler chain, built from its :class:`InferenceConfig`.

The stages and their order are llama-cpp-python's (``Llama._init_sampler``), so a
request draws the same tokens here as through ``Llama.generate``: repetition
penalties over the last 64 tokens, then an optional GBNF grammar, then greedy
(temperature 0) or top-k, typical (off), top-p, min-p, temperature and a seeded
draw. Each sequence owns its chain: seeds and penalty histories never mix.

Plain greedy decoding (temperature 0, no repetition penalty, no grammar) needs no
chain: that chain's penalty stage does nothing at a penalty of 1 and its greedy
stage picks the first largest logit, which is the row's ``argmax``
(:func:`argmax_row`, numpy's, also the first largest). ``llama_sampler_sample``
copies the whole vocabulary into a candidate array first: about 45 µs a token for
SmolLM2's 49 152 tokens against 5 µs, per sequence and step in the decoding
thread, where nothing else runs meanwhile.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from ._llama_grammar import grammar_sampler

if TYPE_CHECKING:
    from types import ModuleType

    from rusty_genius_core import InferenceConfig

    from ._tool_mode import Grammar

__all__ = ["PENALTY_LAST_N", "argmax_row", "build_sampler", "free_sampler", "plain_greedy"]

PENALTY_LAST_N: Final = 64  # llama-cpp-python's last_n_tokens_size


def build_sampler(
    lib: ModuleType,
    vocab: Any,
    n_vocab: int,
    config: InferenceConfig,
    seed: int,
    grammar: Grammar | None = None,
) -> Any:
    """A new ``llama_sampler`` chain (free it with :func:`free_sampler`).

    ``grammar`` constrains every token (its ``root`` rule); one llama.cpp cannot
    parse is an :class:`~rusty_genius_core.EngineError` (``grammar_sampler``).
    """
    s = config.sampling
    chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
    try:
        add = lib.llama_sampler_chain_add
        add(
            chain,
            lib.llama_sampler_init_penalties(n_vocab, PENALTY_LAST_N, s.repeat_penalty, 0.0, 0.0),
        )
        if grammar is not None:
            add(chain, grammar_sampler(lib, vocab, grammar))
        if s.temperature == 0.0:
            add(chain, lib.llama_sampler_init_greedy())
        else:
            add(chain, lib.llama_sampler_init_top_k(s.top_k))
            add(chain, lib.llama_sampler_init_typical(1.0, 1))
            add(chain, lib.llama_sampler_init_top_p(s.top_p, 1))
            add(chain, lib.llama_sampler_init_min_p(s.min_p, 1))
            add(chain, lib.llama_sampler_init_temp(s.temperature))
            add(chain, lib.llama_sampler_init_dist(seed))
    except BaseException:
        lib.llama_sampler_free(chain)
        raise
    return chain


def free_sampler(lib: ModuleType, chain: Any) -> None:
    """Free a chain from :func:`build_sampler` (and every stage in it)."""
    lib.llama_sampler_free(chain)


def plain_greedy(config: InferenceConfig, grammar: Grammar | None = None) -> bool:
    """Whether :func:`build_sampler`'s chain would draw the logits' argmax (see above)."""
    s = config.sampling
    return grammar is None and s.temperature == 0.0 and s.repeat_penalty == 1.0


def argmax_row(lib: ModuleType, ctx: Any, row: int, n_vocab: int) -> int:
    """The token with the largest logit in row ``row`` of the last batch (the first, on a tie)."""
    import numpy as np  # llama-cpp-python's own dependency: there whenever llama_cpp is

    logits = np.ctypeslib.as_array(lib.llama_get_logits_ith(ctx, row), (n_vocab,))
    return int(logits.argmax())
