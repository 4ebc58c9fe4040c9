"""pytest plugin: every fixture file becomes one test per backend it runs on.

Enable it with ``-p rusty_genius_teaser.plugin`` (or ``pytest_plugins`` in the
root ``conftest.py``) and make sure pytest visits the fixtures directory (list
it in ``testpaths`` or pass it on the command line). The directory is the
``teaser_fixtures`` ini option, ``fixtures`` under the rootdir by default.

``fixtures/Qwen/Qwen2.5-1.5B-Instruct-GGUF/Q4_K_M/capital-of-france.md`` yields
the items ``…/capital-of-france.md::capital-of-france[pinky]`` and
``…::capital-of-france[llama]``; the llama one carries the ``real`` mark, so
``-m real`` runs fixtures on llama.cpp and ``-m "not real"`` on Pinky, and
``-k capital`` picks fixtures by name. On Pinky a fixture written for ``any``
backend checks only the pipeline (the runner's ``problems``); its
expectations are checked on llama, and on Pinky only when the fixture says
``backend = "pinky"``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import _hooks
from ._fixture import (
    Fixture,
    FixtureBackend,
    FixtureError,
    HubRequirement,
    check_expectations,
    load_fixture,
)
from ._harness import FixtureResult, run_fixture
from ._online import ONLINE_MARK, split_online

if TYPE_CHECKING:
    from collections.abc import Iterator

    from _pytest._code.code import TerminalRepr

__all__ = ["FixtureFailed", "FixtureFile", "FixtureItem"]

_RESULTS = pytest.StashKey[list[tuple[str, FixtureResult]]]()
_OFFLINE_LINE = pytest.StashKey[str]()
_INI = "teaser_fixtures"


class FixtureFailed(AssertionError):
    """A fixture's output missed its expectations, or the runner reported problems."""

    def __init__(self, fixture: Fixture, result: FixtureResult, failures: list[str]) -> None:
        super().__init__(f"{fixture.test_id}: " + "; ".join(failures))
        self.fixture = fixture
        self.result = result
        self.failures = failures


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(_hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        _INI,
        "directory of brainteaser fixtures (ORG/REPO/QUANT/TEST.md), relative to the rootdir",
        default="fixtures",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "teaser: a brainteaser fixture run (one per fixture file and backend)"
    )
    if not any(str(line).split(":")[0].strip() == "real" for line in config.getini("markers")):
        config.addinivalue_line("markers", "real: needs the real llama.cpp engine")
    config.addinivalue_line(
        "markers",
        f"{ONLINE_MARK}: needs the real Hugging Face hub (deselected when it is unreachable, "
        "unless GENIUS_ONLINE=1)",
    )
    config.stash[_RESULTS] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept, deselected, line = split_online(items)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept
    if line is not None:
        config.stash[_OFFLINE_LINE] = line


def pytest_report_collectionfinish(config: pytest.Config) -> list[str]:
    line = config.stash.get(_OFFLINE_LINE, None)
    return [] if line is None else [line]


def fixtures_root(config: pytest.Config) -> Path:
    """Where the fixtures live: absolute, but not resolved, so symlinks stay visible."""
    return Path(os.path.abspath(config.rootpath / str(config.getini(_INI))))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> FixtureFile | None:
    root = fixtures_root(parent.config)
    path = Path(os.path.abspath(file_path))
    if not path.is_relative_to(root):
        return None
    if any(part.startswith(".") for part in path.relative_to(root).parts):
        return None
    return FixtureFile.from_parent(parent, path=path)


@pytest.hookimpl(trylast=True)
def pytest_teaser_run_fixture(fixture: Fixture, backend: str) -> FixtureResult:
    return run_fixture(fixture, backend)


class FixtureFile(pytest.File):
    """One fixture file; a malformed one fails collection with one line naming it."""

    def collect(self) -> Iterator[FixtureItem]:
        fixture = load_fixture(self.path, fixtures_root(self.config))
        for backend in fixture.expectations.backends:
            item = FixtureItem.from_parent(
                self, name=f"{fixture.name}[{backend}]", fixture=fixture, backend=backend
            )
            item.add_marker("teaser")
            if fixture.expectations.requires_hub is HubRequirement.INTERNET:
                item.add_marker(ONLINE_MARK)
            if backend == FixtureBackend.LLAMA:
                item.add_marker("real")
            yield item

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, FixtureError):
            return f"malformed brainteaser fixture: {excinfo.value}"
        return super().repr_failure(excinfo)


class FixtureItem(pytest.Item):
    """One fixture on one backend: run it, report its numbers, check its expectations."""

    def __init__(self, *, fixture: Fixture, backend: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fixture = fixture
        self.backend = backend

    @property
    def checks_expectations(self) -> bool:
        """On Pinky, an ``any`` fixture's expectations (about a real model) do not apply."""
        return self.backend == FixtureBackend.LLAMA or (
            self.fixture.expectations.backend == FixtureBackend.PINKY
        )

    def runtest(self) -> None:
        result = self.ihook.pytest_teaser_run_fixture(fixture=self.fixture, backend=self.backend)
        if not isinstance(result, FixtureResult):
            raise TypeError(f"pytest_teaser_run_fixture returned {result!r}, not a FixtureResult")
        self.add_report_section("call", "brainteaser", result.report())
        self.user_properties.extend(
            [
                ("model", result.model),
                ("backend", result.backend),
                ("prompt_tokens", result.prompt_tokens),
                ("completion_tokens", result.completion_tokens),
                ("ttft_s", result.time_to_first_token),
                ("tokens_per_s", result.tokens_per_second),
            ]
        )
        self.config.stash[_RESULTS].append((self.nodeid, result))
        failures = list(result.problems)
        if self.checks_expectations:
            failures += check_expectations(self.fixture, result.text)
        if failures:
            raise FixtureFailed(self.fixture, result, failures)

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str | TerminalRepr:
        error = excinfo.value
        if isinstance(error, FixtureFailed):
            lines = [f"fixture {error.fixture.path} failed on {self.backend}:"]
            lines += [f"  - {failure}" for failure in error.failures]
            lines += ["output:", error.result.text]
            return "\n".join(lines)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.fixture.reference} {self.fixture.name} [{self.backend}]"


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    results = config.stash.get(_RESULTS, [])
    if not results:
        return
    terminalreporter.section("brainteaser")
    for nodeid, result in results:
        ttft = "n/a" if result.time_to_first_token is None else f"{result.time_to_first_token:.3f}s"
        tps = "n/a" if result.tokens_per_second is None else f"{result.tokens_per_second:.1f}"
        terminalreporter.write_line(
            f"{nodeid}: model {result.model}, {result.completion_tokens} tokens, "
            f"ttft {ttft}, {tps} tok/s"
        )
