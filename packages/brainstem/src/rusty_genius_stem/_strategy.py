"""How long a loaded model stays in memory once its requests are done.

The strategy is the orchestrator's default; an ``Infer`` may override it for its
model with ``keep_alive`` in seconds, as Ollama does: ``0`` unloads after the
request, a negative value keeps the model forever, a positive one hibernates it
after that many idle seconds. The idle clock starts only when no request for the
model is queued or running, and stops when a new one arrives.
"""

from __future__ import annotations

import attrs

from rusty_genius_core import ConfigError
from rusty_genius_core._record import Record

__all__ = ["DEFAULT_HIBERNATE_AFTER", "CortexStrategy", "HibernateAfter", "Immediate", "KeepAlive"]

DEFAULT_HIBERNATE_AFTER = 300.0
"""Seconds an idle model stays loaded under the default :class:`HibernateAfter` (Ollama's 5m)."""


def _positive_seconds(inst: object, attribute: attrs.Attribute[float], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(
            f"{type(inst).__name__}.{attribute.name} must be a positive number of seconds, "
            f"got {value!r}"
        )
    if value == float("inf"):
        raise ConfigError(
            f"{type(inst).__name__}.{attribute.name} must be finite (use KeepAlive), got {value!r}"
        )


@attrs.frozen(repr=False, eq=False)
class Immediate(Record):
    """Unload as soon as the last request for the model finishes.

    A bare ``LoadModel`` does not count: a model loaded ahead of time waits for
    its first request, and is unloaded when that request (and any queued behind
    it) is done.
    """


@attrs.frozen(repr=False, eq=False)
class HibernateAfter(Record):
    """Unload after ``duration`` idle seconds; the next request reloads it (a cold start)."""

    duration: float = attrs.field(default=DEFAULT_HIBERNATE_AFTER, validator=_positive_seconds)


@attrs.frozen(repr=False, eq=False)
class KeepAlive(Record):
    """Never unload on a timer; only ``Unload``, a model switch or shutdown free the model."""


CortexStrategy = Immediate | HibernateAfter | KeepAlive
