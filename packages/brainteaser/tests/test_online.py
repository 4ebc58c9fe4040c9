"""Fixture runs that need the real hub: kept where it answers, deselected with one line otherwise."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import pytest

from rusty_genius_teaser._online import ONLINE_MARK, hub_answers, hub_endpoint, split_online

if TYPE_CHECKING:
    from collections.abc import Iterator

pytest_plugins = ["pytester"]


class Item:
    """Just enough of a pytest item for ``split_online``."""

    def __init__(self, name: str, *, online: bool) -> None:
        self.name = name
        self.online = online

    def get_closest_marker(self, name: str) -> object | None:
        return object() if self.online and name == ONLINE_MARK else None


@pytest.fixture
def listening() -> Iterator[str]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


@pytest.fixture
def closed() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


ITEMS = [Item("loopback", online=False), Item("qwen", online=True), Item("qwen2", online=True)]


def test_an_unreachable_hub_deselects_the_online_runs_with_one_line(closed: str) -> None:
    kept, dropped, line = split_online(ITEMS, {"HF_ENDPOINT": closed})  # type: ignore[arg-type]
    assert kept == ITEMS[:1]
    assert dropped == ITEMS[1:]
    assert line == (
        f"brainteaser: deselected 2 fixture run(s) that need the Hugging Face hub ({closed} is "
        "unreachable; GENIUS_ONLINE=1 runs them anyway)"
    )


def test_a_hub_that_answers_keeps_them(listening: str) -> None:
    assert split_online(ITEMS, {"HF_ENDPOINT": listening}) == (ITEMS, [], None)  # type: ignore[arg-type]


def test_genius_online_decides_without_probing(closed: str) -> None:
    forced = {"HF_ENDPOINT": closed, "GENIUS_ONLINE": "1"}
    assert split_online(ITEMS, forced) == (ITEMS, [], None)  # type: ignore[arg-type]
    kept, dropped, line = split_online(ITEMS, {"GENIUS_ONLINE": "0"})  # type: ignore[arg-type]
    assert (kept, dropped) == (ITEMS[:1], ITEMS[1:])
    assert line is not None
    assert "(GENIUS_ONLINE=0; GENIUS_ONLINE=1 runs them anyway)" in line


def test_no_online_runs_means_no_probe() -> None:
    offline_only = ITEMS[:1]
    bad = {"HF_ENDPOINT": "http://"}  # would not even parse as a host
    assert split_online(offline_only, bad) == (offline_only, [], None)  # type: ignore[arg-type]


def test_the_probe_and_the_endpoint(listening: str, closed: str) -> None:
    assert hub_answers(listening)
    assert not hub_answers(closed)
    assert not hub_answers("http://")
    assert hub_endpoint({}) == "https://huggingface.co"
    assert hub_endpoint({"HF_ENDPOINT": "http://mirror.example/"}) == "http://mirror.example"


def test_the_plugin_deselects_a_real_hub_fixture(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, closed: str
) -> None:
    folder = pytester.path / "fixtures" / "Qwen" / "Qwen2.5-1.5B-Instruct-GGUF" / "Q4_K_M"
    folder.mkdir(parents=True)
    (folder / "capital.md").write_text(
        '+++\nrequires_hub = "internet"\ncontains = ["Paris"]\nmax_tokens = 8\n+++\nCapital of France?\n'
    )
    pytester.makeini("[pytest]\ntestpaths = fixtures\nfilterwarnings = error\n")
    monkeypatch.setenv("HF_ENDPOINT", closed)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.delenv("GENIUS_ONLINE", raising=False)
    result = pytester.runpytest_subprocess("-p", "rusty_genius_teaser.plugin")
    result.stdout.fnmatch_lines(
        [
            "brainteaser: deselected 2 fixture run(s) that need the Hugging Face hub "
            f"({closed} is unreachable; GENIUS_ONLINE=1 runs them anyway)",
            "*2 deselected*",
        ]
    )
