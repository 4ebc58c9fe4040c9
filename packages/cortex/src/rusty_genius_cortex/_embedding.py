"""What every engine's embeddings share: the checked request and the vectors' last step.

An engine's ``_embed`` hook returns :class:`RawEmbeddings` (one vector per input, as the
model pooled it, and the tokens each input took); :func:`finish_vectors` cuts them to
the requested ``dimensions`` and L2-normalises them, as Ollama's ``/api/embed`` answers.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import attrs

from rusty_genius_core import ConfigError, EngineError
from rusty_genius_core._record import Record

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["EmbedRequest", "RawEmbeddings", "finish_vectors"]


@attrs.frozen(repr=False, eq=False)
class EmbedRequest(Record):
    """One checked embedding request: at least one text; ``truncate`` cuts long texts to
    the context instead of refusing them; ``dimensions`` is the length wanted, if any."""

    inputs: tuple[str, ...]
    truncate: bool = False
    dimensions: int | None = None

    @classmethod
    def checked(
        cls, inputs: Sequence[str], *, truncate: bool = False, dimensions: int | None = None
    ) -> EmbedRequest:
        """The request, or :class:`~rusty_genius_core.ConfigError` naming what is wrong."""
        if isinstance(inputs, str):
            inputs = (inputs,)
        texts = tuple(inputs)
        if not texts:
            raise ConfigError("embed() needs at least one text")
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise ConfigError(f"embed() inputs[{i}] must be str, got {text!r}")
        if dimensions is not None and (
            isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1
        ):
            raise ConfigError(f"embed() dimensions must be a positive integer, got {dimensions!r}")
        return cls(texts, truncate, dimensions)


@attrs.frozen(repr=False, eq=False)
class RawEmbeddings(Record):
    """What an engine's ``_embed`` hook returns: ``vectors[i]`` (pooled, not yet
    normalised) and ``token_counts[i]`` for ``inputs[i]``."""

    vectors: tuple[tuple[float, ...], ...]
    token_counts: tuple[int, ...]


def finish_vectors(
    raw: Sequence[Sequence[float]], dimensions: int | None
) -> tuple[tuple[float, ...], ...]:
    """Each vector cut to ``dimensions`` (when given) and scaled to unit length.

    A ``dimensions`` larger than the model's is :class:`~rusty_genius_core.ConfigError`;
    a zero vector stays zero.
    """
    out: list[tuple[float, ...]] = []
    for vector in raw:
        if dimensions is not None:
            if dimensions > len(vector):
                raise ConfigError(
                    f"dimensions {dimensions} exceeds the model's embedding size {len(vector)}"
                )
            vector = vector[:dimensions]
        values = [float(x) for x in vector]
        if not all(math.isfinite(x) for x in values):
            raise EngineError("the model produced a non-finite embedding")
        norm = math.sqrt(math.fsum(x * x for x in values))
        out.append(tuple(x / norm for x in values) if norm > 0 else tuple(values))
    return tuple(out)
