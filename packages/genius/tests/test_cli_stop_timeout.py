"""``genius serve --stop-timeout``: how long an engine has to stop before it is abandoned.

A bad value is refused in ``test_cli.py``'s ``test_serve_names_a_bad_value``.
"""

from __future__ import annotations

from rusty_genius._cli import build_parser
from rusty_genius.brainstem import DEFAULT_STOP_TIMEOUT


def test_serve_stop_timeout_takes_seconds() -> None:
    assert build_parser().parse_args(["serve", "--stop-timeout", "2.5"]).stop_timeout == 2.5
    assert build_parser().parse_args(["serve"]).stop_timeout == DEFAULT_STOP_TIMEOUT
