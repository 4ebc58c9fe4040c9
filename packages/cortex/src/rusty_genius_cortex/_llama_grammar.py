"""The grammar's way into llama.cpp's sampler chain: one sampler, built from a :class:`Grammar`.

:func:`check_grammar` parses the grammar with llama.cpp itself when a request is
prepared (llama.cpp answers a grammar it cannot parse with a null sampler, which a
chain must never receive); :func:`llama_grammar` is what ``Llama.generate`` takes
(``grammar=``), which adds ``llama_sampler_init_grammar(vocab, text, root)`` to the
chain ahead of the sampling samplers. A decode loop with its own per-sequence chain
adds the same sampler with :func:`grammar_sampler`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rusty_genius_core import EngineError

if TYPE_CHECKING:
    from types import ModuleType

    from ._tool_mode import Grammar

__all__ = ["check_grammar", "grammar_sampler", "llama_grammar"]


def grammar_sampler(lib: ModuleType, vocab: Any, grammar: Grammar) -> Any:
    """A new grammar sampler (the caller adds it to a chain, which then owns it)."""
    sampler = lib.llama_sampler_init_grammar(
        vocab, grammar.text.encode("utf-8"), grammar.root.encode("utf-8")
    )
    if not sampler:
        raise EngineError(
            "llama.cpp could not parse the grammar built for this request "
            f"(root {grammar.root!r}, {len(grammar.text)} characters)"
        )
    return sampler


def check_grammar(lib: ModuleType, vocab: Any, grammar: Grammar) -> None:
    """:class:`EngineError` when llama.cpp cannot parse ``grammar``."""
    lib.llama_sampler_free(grammar_sampler(lib, vocab, grammar))


def llama_grammar(grammar: Grammar | None) -> Any:
    """``grammar`` as llama-cpp-python's ``LlamaGrammar`` (for ``Llama.generate``), or None."""
    if grammar is None:
        return None
    from llama_cpp.llama_grammar import LlamaGrammar

    out = LlamaGrammar(_grammar=grammar.text)
    out._root = grammar.root
    return out
