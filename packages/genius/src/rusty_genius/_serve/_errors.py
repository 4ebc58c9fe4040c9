"""Errors as HTTP answers: the status from the exception's class, the body in the API's shape.

Every :class:`~rusty_genius_core.GeniusError` subclass carries its ``http_status``
(``BusyError`` 503, the ``*NotFoundError`` and ``OfflineError`` 404, bad input 400,
the hub's ``DownloadError``/``IntegrityError`` 502, ...); anything else is a 500.
OpenAI clients get ``{"error": {"message", "type", "param", "code"}}`` with ``param``
naming the offending field, Ollama clients ``{"error": "..."}``. Request validation
errors (pydantic's, from the request models) become 400s naming the field too.

This module imports no HTTP stack: the command line reads :class:`RequestError`.
"""

from __future__ import annotations

import enum
import json
from typing import TYPE_CHECKING, Any, Final

from rusty_genius_core import GeniusError, ProtocolError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "GENIUS_ERROR",
    "Api",
    "RequestError",
    "describe_value",
    "dumps",
    "error_payload",
    "exception_message",
    "status_of",
    "validation_message",
]

GENIUS_ERROR: Final = "genius_invalid"
"""The pydantic error type our own field validators raise; ``ctx["reason"]`` says why."""


class Api(enum.Enum):
    """Whose error shape a path answers with."""

    OPENAI = "openai"
    OLLAMA = "ollama"


class RequestError(ProtocolError):
    """A request the server refuses with 400; ``param`` is the offending field's path."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


def status_of(exc: BaseException) -> int:
    """The HTTP status of an exception: its class's ``http_status``, else 500."""
    return exc.http_status if isinstance(exc, GeniusError) else 500


def dumps(data: object) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


_OPENAI_TYPES: Final = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "forbidden"),
    404: ("invalid_request_error", None),
    405: ("invalid_request_error", "method_not_allowed"),
    408: ("invalid_request_error", "request_timeout"),
    413: ("invalid_request_error", "request_too_large"),
    502: ("server_error", "upstream_error"),
    503: ("server_error", "server_busy"),
}


def error_payload(
    api: Api, status: int, message: str, *, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """``{"error": {...}}`` for OpenAI, ``{"error": "..."}`` for Ollama."""
    if api is Api.OLLAMA:
        return {"error": message}
    kind, default_code = _OPENAI_TYPES.get(status, ("server_error", None))
    return {
        "error": {
            "message": message,
            "type": kind,
            "param": param,
            "code": code or default_code,
        }
    }


def exception_message(exc: BaseException) -> tuple[str, str | None]:
    """The message and field a client may see; internal errors say nothing more."""
    if isinstance(exc, GeniusError):
        param = exc.param if isinstance(exc, RequestError) else None
        return (str(exc) or type(exc).__name__), param
    return "internal server error", None


def describe_value(value: object) -> str:
    """``a number (7)``: what a client sent, shortly, for an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        kind = "a boolean"
    elif isinstance(value, int | float):
        kind = "a number"
    elif isinstance(value, str):
        return f"a string ({value[:80]!r})"
    elif isinstance(value, list | tuple):
        kind = "an array"
    elif isinstance(value, dict):
        kind = "an object"
    else:
        return type(value).__name__
    try:
        shown = json.dumps(value)[:80]
    except (TypeError, ValueError):
        try:
            shown = repr(value)[:80]
        except ValueError:  # an integer past Python's limit on digits to convert
            shown = "too many digits to show"
    return f"{kind} ({shown})"


def _path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


_OBJECT_TYPES: Final = frozenset({"model_type", "model_attributes_type", "dict_type"})


def validation_message(errors: Sequence[Mapping[str, Any]]) -> tuple[str, str | None]:
    """The message and field path of the first of pydantic's errors for a request body.

    ``loc`` starts with ``"body"`` (FastAPI's prefix); the rest is the field's path,
    written as clients write it: ``messages[2].content``, ``options.num_ctx``.
    """
    if not errors:
        return "the request is not valid", None
    first = errors[0]
    kind = str(first.get("type", ""))
    ctx = first.get("ctx") or {}
    if kind == "json_invalid":
        return f"the request body is not valid JSON: {ctx.get('error', 'decode error')}", None
    loc = list(first.get("loc", ()))
    if loc and loc[0] == "body":
        loc = loc[1:]
    path = _path(loc)
    if not path:
        if kind == "missing":
            return "the request body is empty; send a JSON object", None
        got = describe_value(first.get("input")).split(" (")[0]
        return f"the request body must be a JSON object, got {got}", None
    if kind == GENIUS_ERROR:
        return f"'{path}' {ctx['reason']}", path
    if kind == "missing":
        return f"'{path}' is required", path
    if kind in _OBJECT_TYPES:
        return f"'{path}' must be an object, got {describe_value(first.get('input'))}", path
    return f"'{path}': {first.get('msg', 'invalid')}", path
