"""An ErrorReport becomes the exception class it carries, with the message it carries."""

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
    RequestCancelledError,
)
from rusty_genius.errors import DownloadError, IntegrityError, error_from_report
from rusty_genius.protocol import ErrorReport, from_json, to_json


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (AssetError, "disk full"),
        (BusyError, "512 requests already wait"),
        (ConfigError, "top_p out of range"),
        (EngineError, "cannot load x.gguf"),
        (ManifestError, "bad reference"),
        (ProtocolError, "duplicate id"),
        (GeniusError, "ValueError: bug"),
        (OfflineError, "the hub is off"),
        (IntegrityError, "sha256 differs"),
        (DownloadError, "a\nb"),
        (RequestCancelledError, "request 'r-1' was cancelled"),
    ],
)
def test_the_report_raises_its_own_class(error: type[GeniusError], message: str) -> None:
    report = ErrorReport(error=error, message=message)
    for arrived in (report, from_json(to_json(report), ErrorReport)):  # in process, over a wire
        raised = error_from_report(arrived)
        assert type(raised) is error
        assert raised.message == message


def test_an_unknown_class_on_the_wire_is_a_protocol_error() -> None:
    text = '{"type": "error_report", "error": "SomethingNew", "message": "from a newer brainstem"}'
    with pytest.raises(ProtocolError, match=r"^\$\.error: 'SomethingNew' is not a known"):
        from_json(text, ErrorReport)
