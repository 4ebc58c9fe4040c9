"""One request's llama.cpp sampler chain, built from its :class:`InferenceConfig`.

The stages and their order are llama-cpp-python's (``Llama._init_sampler``), so a
request draws the same tokens here as through ``Llama.generate``: repetition
penalties over the last 64 tokens, then an optional GBNF grammar, then greedy
(temperature 0) or top-k, typical (off), top-p, min-p, temperature and a seeded
draw. Each sequence owns its chain: seeds and penalty histories never mix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from rusty_genius_core import ConfigError

if TYPE_CHECKING:
    from types import ModuleType

    from rusty_genius_core import InferenceConfig

__all__ = ["PENALTY_LAST_N", "build_sampler", "free_sampler"]

PENALTY_LAST_N: Final = 64  # llama-cpp-python's last_n_tokens_size


def build_sampler(
    lib: ModuleType,
    vocab: Any,
    n_vocab: int,
    config: InferenceConfig,
    seed: int,
    grammar: str | None = None,
) -> Any:
    """A new ``llama_sampler`` chain (free it with :func:`free_sampler`).

    ``grammar`` is a GBNF grammar whose ``root`` rule constrains every token;
    a grammar llama.cpp cannot parse is a :class:`~rusty_genius_core.ConfigError`.
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
            stage = lib.llama_sampler_init_grammar(vocab, grammar.encode("utf-8"), b"root")
            if not stage:
                raise ConfigError("llama.cpp could not parse the grammar (GBNF with a 'root' rule)")
            add(chain, stage)
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
