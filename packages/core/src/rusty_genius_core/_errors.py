"""The one error tree of rusty-genius.

Every package raises a subclass of :class:`GeniusError`, so callers can catch
everything the framework means to raise with a single ``except``. Subclasses
also derive from the standard-library base that fits, so generic handlers
(``except ValueError``, ``except OSError``) keep working::

    GeniusError
    ├── ProtocolError      (ValueError)   a message or dict does not follow the protocol
    ├── ConfigError        (ValueError)   an InferenceConfig or option is out of range
    ├── ManifestError      (ValueError)   a model reference or manifest entry is wrong
    ├── AssetError         (OSError)      a model file cannot be resolved, fetched or verified
    ├── EngineError        (RuntimeError) an engine cannot load or run a model
    └── BusyError          (RuntimeError) a bounded queue is full; retry later
"""

from __future__ import annotations

__all__ = [
    "AssetError",
    "BusyError",
    "ConfigError",
    "EngineError",
    "GeniusError",
    "ManifestError",
    "ProtocolError",
]


class GeniusError(Exception):
    """Root of every error rusty-genius raises on purpose."""

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class ProtocolError(GeniusError, ValueError):
    """A protocol message, or the plain dict it was decoded from, is malformed."""


class ConfigError(GeniusError, ValueError):
    """A configuration value is missing, of the wrong type or out of range."""


class ManifestError(GeniusError, ValueError):
    """A model reference, manifest entry or spec is invalid or conflicting."""


class AssetError(GeniusError, OSError):
    """A model asset cannot be resolved, downloaded, verified or recorded."""


class EngineError(GeniusError, RuntimeError):
    """An inference engine cannot load a model or run a request."""


class BusyError(GeniusError, RuntimeError):
    """A bounded queue is full; the request was refused rather than queued without limit."""
