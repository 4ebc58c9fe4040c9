"""``genius serve --stop-timeout``: how long an engine has to stop before it is abandoned."""

from __future__ import annotations

import pytest

from rusty_genius._cli import build_parser
from rusty_genius.brainstem import DEFAULT_STOP_TIMEOUT


def test_serve_stop_timeout_takes_seconds() -> None:
    assert build_parser().parse_args(["serve", "--stop-timeout", "2.5"]).stop_timeout == 2.5
    assert build_parser().parse_args(["serve"]).stop_timeout == DEFAULT_STOP_TIMEOUT


@pytest.mark.parametrize("bad", ["0", "-1", "inf", "nan", "soon"])
def test_serve_stop_timeout_names_a_bad_value(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["serve", "--stop-timeout", bad])
    assert exit_info.value.code == 2
    assert f"--stop-timeout must be a positive number of seconds, got {bad!r}" in (
        capsys.readouterr().err
    )
