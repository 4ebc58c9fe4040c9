"""Embeddings: the :class:`Embed` command and its final answer, :class:`Embeddings`.

An ``Embed`` goes through the brainstem as an ``Infer`` does (the model is fetched and
loaded, ``keep_alive`` applies) and ends with one ``Embeddings`` body: a vector per
input, in order, with the tokens each input took. A text longer than the model's
context is the caller's error (:class:`~rusty_genius_core.ContextLengthError`) unless
``truncate`` asks to cut it to the context, as Ollama's ``/api/embed`` does.
"""

from __future__ import annotations

from typing import Any, Final

import attrs

from ._errors import ProtocolError
from ._limits import DURATION, EMBED_DIMENSIONS, KEEP_ALIVE, MAX_EMBED_INPUTS, TOKEN_COUNT
from ._record import Record
from ._validators import (
    Refusal,
    as_tuple,
    as_validator,
    at_most,
    decoded,
    each_is,
    non_empty,
    non_empty_str,
    number,
    number_in,
    typed,
)

__all__ = ["Embed", "Embeddings"]


def _inputs(value: Any) -> Any:
    if not isinstance(value, tuple) or not value:
        raise Refusal("must be a non-empty sequence of strings")
    at_most(value, MAX_EMBED_INPUTS, "texts")
    each_is(value, str, "str")
    return value


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Embed(Record):
    """Embed each of ``inputs`` with ``model``.

    ``truncate`` cuts a text longer than the context instead of refusing it;
    ``dimensions`` keeps the first that many components (re-normalised), for models
    trained for it; ``keep_alive`` is :attr:`~rusty_genius_core.Infer.keep_alive`'s.
    """

    model: str = attrs.field(validator=non_empty_str(ProtocolError))
    inputs: tuple[str, ...] = attrs.field(
        converter=as_tuple, validator=as_validator(_inputs, ProtocolError)
    )
    truncate: bool = attrs.field(default=False, validator=typed(bool, ProtocolError))
    dimensions: int | None = attrs.field(
        default=None, validator=number_in(EMBED_DIMENSIONS, ProtocolError, optional=True)
    )
    keep_alive: float | None = attrs.field(
        default=None, validator=number_in(KEEP_ALIVE, ProtocolError, optional=True)
    )


_count: Final = number(TOKEN_COUNT)


def _token_counts(value: Any) -> Any:
    for i, n in enumerate(value):
        try:
            _count(n)
        except Refusal as refusal:
            raise Refusal(str(refusal), at=f"[{i}]") from None
    return value


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Embeddings(Record):
    """The final answer to :class:`Embed`: ``vectors[i]`` embeds ``inputs[i]``, which took
    ``token_counts[i]`` tokens (after truncation). Vectors are L2-normalised."""

    model: str = attrs.field(metadata=decoded(non_empty()))
    vectors: tuple[tuple[float, ...], ...] = ()
    token_counts: tuple[int, ...] = attrs.field(default=(), metadata=decoded(_token_counts))
    load_duration: float = attrs.field(default=0.0, metadata=decoded(number(DURATION)))
    duration: float = attrs.field(default=0.0, metadata=decoded(number(DURATION)))

    @property
    def prompt_tokens(self) -> int:
        """Tokens of all inputs together (OpenAI's ``usage.prompt_tokens``)."""
        return sum(self.token_counts)

    @property
    def dimensions(self) -> int:
        return len(self.vectors[0]) if self.vectors else 0
