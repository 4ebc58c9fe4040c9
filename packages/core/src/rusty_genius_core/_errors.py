"""The one error tree of rusty-genius.

Every package raises a subclass of :class:`GeniusError`, so callers can catch
everything the framework means to raise with a single ``except``. Subclasses
also derive from the standard-library base that fits, so generic handlers
(``except ValueError``, ``except OSError``) keep working::

    GeniusError                                  status
    ├── ProtocolError         (ValueError)        400   a message or dict does not follow the protocol
    ├── ConfigError           (ValueError)        400   an InferenceConfig or option is out of range
    ├── ManifestError         (ValueError)        400   a model reference or manifest entry is wrong
    ├── UnsupportedError      (ValueError)        400   the model or engine cannot do what was asked
    ├── ContextLengthError    (ValueError)        400   a prompt or text is longer than the context
    ├── AssetError            (OSError)           500   a model file cannot be resolved, fetched or verified
    ├── EngineError           (RuntimeError)      500   an engine cannot load or run a model
    ├── BusyError             (RuntimeError)      503   a bounded queue is full; retry later
    └── RequestCancelledError (Exception)         499   the request was cancelled before it ended

Each class carries the HTTP status a server answers it with (``http_status``) and
whether it is the caller's fault (``user_fault``: a 4xx status), so the server, the CLI's
exit codes and the brainstem's error reports read the class instead of keeping lists of
their own. Every subclass, in any package, is registered by name as it is defined
(:func:`error_class`), which is how an error report names its type on the wire.
"""

from __future__ import annotations

from typing import ClassVar, Final

__all__ = [
    "AssetError",
    "BusyError",
    "ConfigError",
    "ContextLengthError",
    "EngineError",
    "GeniusError",
    "ManifestError",
    "ProtocolError",
    "RequestCancelledError",
    "UnsupportedError",
    "error_class",
]

_BY_NAME: Final[dict[str, type[GeniusError]]] = {}


def error_class(name: str) -> type[GeniusError] | None:
    """The public error class called ``name`` (``"OfflineError"``), if one is defined.

    Classes register when their module is imported; the first class defined with a
    name keeps it.
    """
    return _BY_NAME.get(name)


class GeniusError(Exception):
    """Root of every error rusty-genius raises on purpose."""

    http_status: ClassVar[int] = 500
    """The status an HTTP server answers with when this error ends a request."""
    user_fault: ClassVar[bool] = False
    """True when the caller can fix it (a 4xx status); set from ``http_status``."""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.user_fault = 400 <= cls.http_status < 500
        known = _BY_NAME.get(cls.__name__)
        same = known is not None and (known.__module__, known.__qualname__) == (
            cls.__module__,
            cls.__qualname__,
        )
        if not cls.__name__.startswith("_") and (known is None or same):
            _BY_NAME[cls.__name__] = cls  # the first class of a name keeps it (or a reload)

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class ProtocolError(GeniusError, ValueError):
    """A protocol message, or the plain dict it was decoded from, is malformed."""

    http_status = 400


class ConfigError(GeniusError, ValueError):
    """A configuration value is missing, of the wrong type or out of range."""

    http_status = 400


class ManifestError(GeniusError, ValueError):
    """A model reference, manifest entry or spec is invalid or conflicting."""

    http_status = 400


class UnsupportedError(GeniusError, ValueError):
    """The engine or model cannot do what the request asks: tools, a response format or a
    schema keyword it cannot enforce, embeddings from a model or server without them."""

    http_status = 400


class ContextLengthError(GeniusError, ValueError):
    """A prompt (or a text to embed) does not fit the model's context.

    OpenAI's servers answer it with code ``context_length_exceeded``.
    """

    http_status = 400


class AssetError(GeniusError, OSError):
    """A model asset cannot be resolved, downloaded, verified or recorded."""


class EngineError(GeniusError, RuntimeError):
    """An inference engine cannot load a model or run a request."""


class BusyError(GeniusError, RuntimeError):
    """A bounded queue is full; the request was refused rather than queued without limit."""

    http_status = 503


class RequestCancelledError(GeniusError):
    """The request was cancelled (by its client or a shutdown) before it ended.

    An :class:`~rusty_genius_core.Infer` that is cancelled still ends with ``Complete``
    (finish reason ``cancelled``); a cancelled load has no such event and ends with this
    error. 499 is the status proxies use for a request its client closed.
    """

    http_status = 499
