"""The whole error tree, and the helpers that read errors.

Every error rusty-genius raises on purpose is a :class:`GeniusError`; each class carries
its ``http_status`` and ``user_fault``. Core's classes say which part failed
(:class:`ConfigError`, :class:`ProtocolError`, :class:`ManifestError`, :class:`AssetError`,
:class:`EngineError`, :class:`BusyError`, :class:`RequestCancelledError`); facecrab's
subclasses say what went wrong with a model's files (:class:`OfflineError`,
:class:`ModelNotFoundError`, :class:`DownloadError`, :class:`IntegrityError`...).
The most common ones are in :mod:`rusty_genius` too.
"""

from __future__ import annotations

from facecrab import AmbiguousQuantizationError as AmbiguousQuantizationError
from facecrab import DownloadError as DownloadError
from facecrab import IntegrityError as IntegrityError
from facecrab import ModelNotFoundError as ModelNotFoundError
from facecrab import OfflineError as OfflineError
from facecrab import QuantizationNotFoundError as QuantizationNotFoundError
from facecrab import RegistryError as RegistryError
from facecrab import RepoNotFoundError as RepoNotFoundError
from facecrab import RevisionNotFoundError as RevisionNotFoundError
from rusty_genius_core import AssetError as AssetError
from rusty_genius_core import BusyError as BusyError
from rusty_genius_core import ConfigError as ConfigError
from rusty_genius_core import ContextLengthError as ContextLengthError
from rusty_genius_core import EngineError as EngineError
from rusty_genius_core import GeniusError as GeniusError
from rusty_genius_core import ManifestError as ManifestError
from rusty_genius_core import ProtocolError as ProtocolError
from rusty_genius_core import RequestCancelledError as RequestCancelledError
from rusty_genius_core import UnsupportedError as UnsupportedError
from rusty_genius_core import error_class as error_class
from rusty_genius_core import exception_leaves as exception_leaves
from rusty_genius_core import unwrap_exception_groups as unwrap_exception_groups
from rusty_genius_core._public import publish as _publish

from ._errors import error_from_report as error_from_report

__all__ = [
    "AmbiguousQuantizationError",
    "AssetError",
    "BusyError",
    "ConfigError",
    "ContextLengthError",
    "DownloadError",
    "EngineError",
    "GeniusError",
    "IntegrityError",
    "ManifestError",
    "ModelNotFoundError",
    "OfflineError",
    "ProtocolError",
    "QuantizationNotFoundError",
    "RegistryError",
    "RepoNotFoundError",
    "RequestCancelledError",
    "RevisionNotFoundError",
    "UnsupportedError",
    "error_class",
    "error_from_report",
    "exception_leaves",
    "unwrap_exception_groups",
]

_publish(__name__)
