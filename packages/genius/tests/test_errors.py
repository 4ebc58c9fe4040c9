"""An ErrorReport becomes the exception class it names, with the message it carries."""

from __future__ import annotations

import pytest

from rusty_genius import (
    AssetError,
    BusyError,
    ConfigError,
    EngineError,
    GeniusError,
    ManifestError,
    OfflineError,
    ProtocolError,
)
from rusty_genius.errors import DownloadError, IntegrityError, error_from_report, error_kinds
from rusty_genius.protocol import ErrorReport


@pytest.mark.parametrize(
    ("kind", "message", "expected", "text"),
    [
        ("AssetError", "disk full", AssetError, "disk full"),
        ("BusyError", "512 requests already wait", BusyError, "512 requests already wait"),
        ("ConfigError", "top_p out of range", ConfigError, "top_p out of range"),
        ("EngineError", "cannot load x.gguf", EngineError, "cannot load x.gguf"),
        ("ManifestError", "bad reference", ManifestError, "bad reference"),
        ("ProtocolError", "duplicate id", ProtocolError, "duplicate id"),
        ("GeniusError", "ValueError: bug", GeniusError, "ValueError: bug"),
        ("AssetError", "OfflineError: the hub is off", OfflineError, "the hub is off"),
        ("AssetError", "IntegrityError: sha256 differs", IntegrityError, "sha256 differs"),
        ("AssetError", "DownloadError: a\nb", DownloadError, "a\nb"),
        # a prefix that is not a subclass of the kind stays part of the message
        ("EngineError", "OfflineError: odd", EngineError, "OfflineError: odd"),
        ("AssetError", "KeyError: 'x'", AssetError, "KeyError: 'x'"),
        ("Cancelled", "request 'r-1' was cancelled", GeniusError, "Cancelled: request"),
        ("SomethingNew", "from a newer brainstem", GeniusError, "SomethingNew: from"),
    ],
)
def test_kind_and_prefix_choose_the_class(
    kind: str, message: str, expected: type[GeniusError], text: str
) -> None:
    error = error_from_report(ErrorReport(kind=kind, message=message))
    assert type(error) is expected
    assert error.message.startswith(text)


def test_every_core_and_facecrab_error_is_a_known_kind() -> None:
    kinds = error_kinds()
    for cls in (AssetError, BusyError, ConfigError, EngineError, ManifestError, ProtocolError):
        assert kinds[cls.__name__] is cls
    assert kinds["OfflineError"] is OfflineError
    assert all(issubclass(cls, GeniusError) for cls in kinds.values())
