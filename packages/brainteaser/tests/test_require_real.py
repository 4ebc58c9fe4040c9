"""A real run (``GENIUS_REQUIRE_REAL=1``, as scripts/metal.sh sets) never skips: a skip fails it.

The workspace's root ``conftest.py`` is copied into a scratch pytest run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT_CONFTEST = Path(__file__).resolve().parents[3] / "conftest.py"
TESTS = """
import pytest

def test_runs() -> None:
    pass

def test_skips() -> None:
    pytest.skip("the hub is unreachable")

@pytest.mark.xfail(strict=True)
def test_expected_to_fail() -> None:
    raise AssertionError
"""


@pytest.fixture
def scratch(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makeconftest(ROOT_CONFTEST.read_text(encoding="utf-8"))
    pytester.makepyfile(test_scratch=TESTS)
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    return pytester


def test_a_skip_fails_a_real_run(scratch: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENIUS_REQUIRE_REAL", "1")
    result = scratch.runpytest_subprocess()
    result.assert_outcomes(passed=1, skipped=1, xfailed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "GENIUS_REQUIRE_REAL=1: 1 test(s) skipped, and a real run never skips: "
            "test_scratch.py::test_skips"
        ]
    )


def test_a_skip_is_a_skip_otherwise(
    scratch: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GENIUS_REQUIRE_REAL", raising=False)
    result = scratch.runpytest_subprocess()
    result.assert_outcomes(passed=1, skipped=1, xfailed=1)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.no_fnmatch_line("*a real run never skips*")
