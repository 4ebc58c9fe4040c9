"""Reading request bodies: typed fields that name themselves when they are wrong.

Both APIs send JSON objects whose fields map onto :class:`InferenceConfig`. A bad
value is a :class:`RequestError` carrying the field's path (``temperature``,
``options.num_ctx``, ``messages[2].content``), which the OpenAI error shape puts
in ``param`` and the Ollama shape in its message. JSON ``null`` counts as absent,
as both APIs treat it. Unknown fields are ignored: clients send extras freely.
"""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, Any, Final

from rusty_genius_core import ConfigError, InferenceConfig, ProtocolError, Sampling

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "NO_LIMIT",
    "Fields",
    "RequestError",
    "SamplingFields",
    "build_config",
    "parse_body",
    "parse_keep_alive",
]

NO_LIMIT: Final = 1 << 24
"""``max_tokens`` when a request sets none: the engine stops at the context's end."""

_SEED_MAX: Final = (1 << 32) - 1


class RequestError(ProtocolError):
    """A request the server refuses with 400; ``param`` is the offending field's path."""

    def __init__(self, message: str, param: str | None = None, *, status: int = 400) -> None:
        super().__init__(message)
        self.param = param
        self.status = status


def parse_body(raw: bytes) -> Fields:
    """The JSON object of a request body."""
    if not raw.strip():
        raise RequestError("the request body is empty; send a JSON object")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise RequestError(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RequestError(f"the request body must be a JSON object, got {type(data).__name__}")
    return Fields(data)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class Fields:
    """Typed, range-checked access to one JSON object's fields."""

    __slots__ = ("data", "path")

    def __init__(self, data: Mapping[str, Any], path: str = "") -> None:
        self.data = data
        self.path = path

    def where(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def has(self, name: str) -> bool:
        return self.data.get(name) is not None

    def raw(self, name: str) -> Any:
        return self.data.get(name)

    def fail(self, name: str, expected: str) -> RequestError:
        value = self.data.get(name)
        shown = json.dumps(value)[:80] if not isinstance(value, str) else repr(value[:80])
        return RequestError(
            f"'{self.where(name)}' must be {expected}, got {_kind(value)} ({shown})",
            self.where(name),
        )

    def string(self, name: str, *, required: bool = False, non_empty: bool = False) -> str | None:
        value = self.data.get(name)
        if value is None:
            if required:
                raise RequestError(f"'{self.where(name)}' is required", self.where(name))
            return None
        if not isinstance(value, str):
            raise self.fail(name, "a string")
        if non_empty and not value.strip():
            raise self.fail(name, "a non-empty string")
        return value

    def boolean(self, name: str) -> bool | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise self.fail(name, "true or false")
        return value

    def number(
        self, name: str, lo: float | None = None, hi: float | None = None, *, lo_open: bool = False
    ) -> float | None:
        value = self.data.get(name)
        if value is None:
            return None
        expected = "a number" + _range(lo, hi, lo_open=lo_open)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(name, expected)
        number = float(value)
        if not math.isfinite(number):
            raise self.fail(name, expected)
        too_low = lo is not None and (number <= lo if lo_open else number < lo)
        if too_low or (hi is not None and number > hi):
            raise self.fail(name, expected)
        return number

    def integer(self, name: str, lo: int | None = None, hi: int | None = None) -> int | None:
        value = self.data.get(name)
        if value is None:
            return None
        expected = "an integer" + _range(lo, hi)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(name, expected)
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise self.fail(name, expected)
        return value

    def object(self, name: str) -> Fields | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.fail(name, "an object")
        return Fields(value, self.where(name))

    def array(self, name: str) -> list[Any] | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, list):
            raise self.fail(name, "an array")
        return value

    def stop(self, name: str = "stop") -> tuple[str, ...]:
        """A stop string or a list of them (at most 16, none empty)."""
        value = self.data.get(name)
        if value is None:
            return ()
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            raise self.fail(name, "a string or an array of strings")
        if len(items) > 16:
            raise RequestError(
                f"'{self.where(name)}' allows at most 16 strings, got {len(items)}",
                self.where(name),
            )
        for i, item in enumerate(items):
            if not isinstance(item, str) or not item:
                raise RequestError(
                    f"'{self.where(name)}[{i}]' must be a non-empty string", self.where(name)
                )
        return tuple(items)


def _range(lo: float | None, hi: float | None, *, lo_open: bool = False) -> str:
    if lo is None and hi is None:
        return ""
    if hi is None:
        return f" {'>' if lo_open else '>='} {lo:g}"
    if lo is None:
        return f" <= {hi:g}"
    return f" in {'(' if lo_open else '['}{lo:g}, {hi:g}]"


class SamplingFields:
    """The sampling and behaviour values both APIs share, gathered before building a config."""

    __slots__ = (
        "context_size",
        "max_tokens",
        "min_p",
        "raw",
        "repeat_penalty",
        "seed",
        "show_thinking",
        "stop",
        "temperature",
        "top_k",
        "top_p",
    )

    def __init__(self) -> None:
        self.temperature: float | None = None
        self.top_p: float | None = None
        self.top_k: int | None = None
        self.min_p: float | None = None
        self.repeat_penalty: float | None = None
        self.max_tokens: int | None = None
        self.seed: int | None = None
        self.stop: tuple[str, ...] = ()
        self.raw = False
        self.show_thinking = True
        self.context_size: int | None = None

    def read_common(self, fields: Fields) -> None:
        """temperature, top_p, top_k, min_p, repeat_penalty: the names both APIs use."""
        self.temperature = fields.number("temperature", 0.0, 5.0)
        self.top_p = fields.number("top_p", 0.0, 1.0, lo_open=True)
        self.top_k = fields.integer("top_k", 0, 1 << 20)
        self.min_p = fields.number("min_p", 0.0, 1.0)
        self.repeat_penalty = fields.number("repeat_penalty", 0.0, 10.0, lo_open=True)

    def read_seed(self, fields: Fields, *, negative_is_random: bool = False) -> None:
        seed = fields.integer("seed", None if negative_is_random else 0, _SEED_MAX)
        self.seed = None if seed is not None and seed < 0 else seed


def build_config(values: SamplingFields) -> InferenceConfig:
    """The :class:`InferenceConfig` for ``values``; unset sampling fields keep their defaults.

    ``temperature == 0`` asks for greedy decoding, so the other unset fields take
    :meth:`Sampling.greedy`'s values, as the command line does.
    """
    base = Sampling.greedy() if values.temperature == 0.0 else Sampling()
    sampling: dict[str, Any] = {
        "temperature": base.temperature,
        "top_p": base.top_p,
        "top_k": base.top_k,
        "min_p": base.min_p,
        "repeat_penalty": base.repeat_penalty,
    }
    for name in sampling:
        value = getattr(values, name)
        if value is not None:
            sampling[name] = value
    try:
        return InferenceConfig(
            max_tokens=values.max_tokens if values.max_tokens is not None else NO_LIMIT,
            context_size=values.context_size,
            show_thinking=values.show_thinking,
            stop=values.stop,
            seed=values.seed,
            raw=values.raw,
            sampling=Sampling(**sampling),
        )
    except ConfigError as exc:  # every range is checked above; this is a last guard
        raise RequestError(str(exc)) from None


# -- keep_alive ---------------------------------------------------------------------------

_UNITS: Final = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,  # Go's spellings of the microsecond
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_PART: Final = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_NUMBER: Final = re.compile(r"[+-]?(\d+(?:\.\d*)?|\.\d+)")


def parse_keep_alive(value: object, where: str = "keep_alive") -> float | None:
    """Ollama's ``keep_alive`` in seconds: ``None`` when absent, negative for forever.

    A number is seconds; a string is a Go duration (``"5m"``, ``"1h30m"``,
    ``"500ms"``, ``"-1m"``) or, leniently, a bare number of seconds. ``0`` unloads
    the model after the request; any negative value keeps it loaded forever.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise RequestError(
            f"'{where}' must be a duration like \"5m\" or a number of seconds, got a boolean",
            where,
        )
    if isinstance(value, int | float):
        seconds = float(value)
        if not math.isfinite(seconds):
            raise RequestError(f"'{where}' must be finite, got {value!r}", where)
        return -1.0 if seconds < 0 else seconds
    if not isinstance(value, str):
        raise RequestError(
            f"'{where}' must be a duration like \"5m\" or a number of seconds, got {_kind(value)}",
            where,
        )
    text = value.strip()
    if _NUMBER.fullmatch(text):
        seconds = float(text)
        return -1.0 if seconds < 0 else seconds
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    total = 0.0
    at = 0
    for part in _PART.finditer(body):
        if part.start() != at:
            break
        total += float(part[1]) * _UNITS[part[2]]
        at = part.end()
    if not body or at != len(body) or not math.isfinite(total):
        raise RequestError(
            f'\'{where}\' must be a duration like "5m", "1h30m" or "-1", got {value!r}', where
        )
    return -1.0 if sign < 0 and total > 0 else total
