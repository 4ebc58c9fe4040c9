"""When a download stops being worth waiting for: the stall rule and the overall deadline.

A hub that stops sending mid-body, or sends one byte every twenty seconds, never trips a
read timeout that restarts at every byte. :class:`TransferLimits` says instead how much
must arrive in how long: at least ``min_rate`` bytes a second (and at least one byte)
over every ``stall_timeout`` seconds, measured from the request. ``attempt_deadline``
bounds one pull's download as a whole, retries and backoff included.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from typing import TYPE_CHECKING, Any, Final

import anyio
import attrs

from rusty_genius_core import ConfigError
from rusty_genius_core._record import Record

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

__all__ = ["ENV_SETTINGS", "StallWatch", "TransferLimits", "retry_after_seconds"]

ENV_SETTINGS: Final = {
    "stall_timeout": "GENIUS_STALL_TIMEOUT",
    "min_rate": "GENIUS_MIN_RATE",
    "attempt_deadline": "GENIUS_ATTEMPT_DEADLINE",
}
"""Each setting's environment variable (seconds, bytes per second, seconds)."""


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, int | float) and value > 0 and math.isfinite(value)):
        raise ConfigError(f"{attribute.name} must be a positive number of seconds, got {value!r}")


def _rate(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, int | float) and value >= 0 and math.isfinite(value)):
        raise ConfigError(f"{attribute.name} must be 0 or more bytes per second, got {value!r}")


def _deadline(_: object, attribute: attrs.Attribute[float | None], value: float | None) -> None:
    if value is not None:
        _positive(_, attribute, value)  # type: ignore[arg-type]


@attrs.frozen(kw_only=True, repr=False, eq=False)
class TransferLimits(Record):
    """How slow a download may be before it is given up on.

    ``stall_timeout``: seconds in which at least :attr:`window_bytes` must arrive (the
    response's headers included in the first window); ``min_rate``: the bytes per second
    that makes (0: any byte counts as progress); ``attempt_deadline``: seconds one pull's
    download may take in all, or ``None`` for no limit.
    """

    stall_timeout: float = attrs.field(default=60.0, validator=_positive)
    min_rate: float = attrs.field(default=1024.0, validator=_rate)
    attempt_deadline: float | None = attrs.field(default=None, validator=_deadline)

    @property
    def window_bytes(self) -> int:
        """Bytes that must arrive within each ``stall_timeout``; an attempt that brought
        at least this many made progress (its failures in a row start over)."""
        return max(1, math.ceil(self.min_rate * self.stall_timeout))

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **given: float | None) -> TransferLimits:
        """Arguments that are not ``None``, else :data:`ENV_SETTINGS`, else the defaults.

        ``GENIUS_ATTEMPT_DEADLINE`` of ``0``, ``none`` or ``off`` means no deadline.
        """
        values: dict[str, Any] = {}
        for name, variable in ENV_SETTINGS.items():
            value = given.get(name)
            if value is None and (text := environ.get(variable, "").strip()):
                if name == "attempt_deadline" and text.lower() in ("none", "off", "0"):
                    continue
                try:
                    value = float(text)
                except ValueError:
                    raise ConfigError(f"{variable}={text!r} is not a number") from None
            if value is not None:
                values[name] = value
        try:
            return cls(**values)
        except ConfigError as exc:
            from_env = [ENV_SETTINGS[n] for n in values if given.get(n) is None]
            where = f" (from {', '.join(from_env)})" if from_env else ""
            raise ConfigError(f"{exc}{where}") from None

    def stalled(self, received: int, headers: bool) -> str:
        """What a stalled attempt did, in words, for the error message."""
        if not headers:
            return f"the hub sent no response within {self.stall_timeout:g} s (stall_timeout)"
        if self.min_rate and received:
            return (
                f"the hub sent {received} bytes in {self.stall_timeout:g} s, under the minimum "
                f"of {self.min_rate:g} bytes/s (min_rate)"
            )
        return f"the hub sent nothing for {self.stall_timeout:g} s (stall_timeout)"

    def advice(self) -> str:
        return (
            f"if the link is this slow, raise {ENV_SETTINGS['stall_timeout']} "
            f"or lower {ENV_SETTINGS['min_rate']}"
        )


class StallWatch:
    """The stall rule over one attempt: :attr:`scope` is cancelled when a window of
    ``stall_timeout`` seconds passes with fewer than ``window_bytes`` received."""

    def __init__(self, limits: TransferLimits) -> None:
        self.limits = limits
        self.scope = anyio.CancelScope(deadline=anyio.current_time() + limits.stall_timeout)
        self.headers = False
        self.window = 0
        """Bytes received in the current window."""

    def answered(self) -> None:
        """The response's headers arrived: that is progress too."""
        self.headers = True
        self._restart()

    def received(self, nbytes: int) -> None:
        self.window += nbytes
        if self.window >= self.limits.window_bytes:
            self._restart()

    def _restart(self) -> None:
        self.window = 0
        self.scope.deadline = anyio.current_time() + self.limits.stall_timeout

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Stop the clock while this side works (disk, progress consumers): time spent
        waiting on a full queue or a slow reader is not the hub's."""
        left = self.scope.deadline - anyio.current_time()
        self.scope.deadline = math.inf
        try:
            yield
        finally:
            self.scope.deadline = anyio.current_time() + left

    @property
    def stalled(self) -> bool:
        return self.scope.cancelled_caught

    def describe(self) -> str:
        return self.limits.stalled(self.window, self.headers)


def retry_after_seconds(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date), or ``None`` if unusable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    import email.utils  # only for an HTTP date: the email package costs a cold start 5 ms

    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    return max(0.0, (when - now).total_seconds())
