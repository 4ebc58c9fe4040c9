"""``genius serve --stop-timeout``: how long an engine has to stop before it is abandoned."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from rusty_genius._cli import build_parser
from rusty_genius._serve import _command
from rusty_genius.brainstem import DEFAULT_STOP_TIMEOUT

if TYPE_CHECKING:
    from pathlib import Path


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


async def test_serve_hands_stop_timeout_to_genius(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: dict[str, object] = {}

    class Seen(Exception):
        pass

    def genius(**options: object) -> None:
        seen.update(options)
        raise Seen

    monkeypatch.setattr(_command, "Genius", genius)
    dirs = ["--home", str(tmp_path / "h"), "--cache", str(tmp_path / "c")]
    args = build_parser().parse_args(["serve", *dirs, "--stop-timeout", "3", "--port", "0"])
    with pytest.raises(Seen):
        await _command.serve_command(args, info=lambda _: None, note=lambda _: None)
    assert seen["stop_timeout"] == 3.0
