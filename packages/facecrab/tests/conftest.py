"""Fixtures for facecrab's tests: the loopback hub, synthetic repos, an authority factory."""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any

import anyio.lowlevel
import pytest

from facecrab import AssetAuthority
from rusty_genius_testhub import HubRepo, LoopbackHub, fake_gguf
from rusty_genius_testhub.pytest_plugin import hub, hub_thread, smollm2_gguf, smollm2_repo

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

__all__ = [
    "child_environment",
    "hub",
    "hub_thread",
    "make_authority",
    "sleeps",
    "smollm2_gguf",
    "smollm2_repo",
    "tiny_repo",
]

TINY = "acme/tiny-GGUF"
TINY_Q4 = "tiny.Q4_K_M.gguf"
TINY_Q4_SIZE = 2_500_001  # a few flushes and an odd tail
TINY_SPLIT = tuple(f"F16/tiny.F16-{i:05d}-of-00003.gguf" for i in (1, 2, 3))


@functools.cache
def blob(label: str, size: int) -> bytes:
    return fake_gguf(label, size)


def tiny_files() -> dict[str, Path | bytes]:
    files: dict[str, Path | bytes] = {
        TINY_Q4: blob("tiny-q4km", TINY_Q4_SIZE),
        "tiny.Q8_0.gguf": blob("tiny-q8", 300_000),
        "mmproj-tiny-F16.gguf": blob("mmproj", 1000),
        "README.md": b"# tiny\n",
    }
    for i, name in enumerate(TINY_SPLIT):
        files[name] = blob(f"split-{i}", 100_000 + i)
    return files


class RecordingSleep:
    """Backoff without waiting: records each delay and yields once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await anyio.lowlevel.checkpoint()


@pytest.fixture
def tiny_repo(hub: LoopbackHub) -> HubRepo:
    """``acme/tiny-GGUF``: Q4_K_M (2.5 MB), Q8_0, a 3-part F16 split, an mmproj, a README."""
    return hub.add_repo(TINY, tiny_files())


@pytest.fixture
def sleeps() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def make_authority(
    hub: LoopbackHub, tmp_path: Path, sleeps: RecordingSleep
) -> Callable[..., AssetAuthority]:
    """An authority on ``tmp_path`` against the hub, isolated from the process environment."""

    def make(**overrides: Any) -> AssetAuthority:
        options: dict[str, Any] = {
            "home": tmp_path / "home",
            "cache": tmp_path / "cache",
            "endpoint": hub.url,
            "token": False,
            "sleep": sleeps,
            "environ": {},
        }
        options.update(overrides)
        return AssetAuthority(**options)

    return make


@pytest.fixture
def child_environment(hub: LoopbackHub, tmp_path: Path) -> dict[str, str]:
    """For a child process: the same home, cache and hub as ``make_authority``'s, no other HF_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env |= {
        "GENIUS_HOME": str(tmp_path / "home"),
        "GENIUS_CACHE": str(tmp_path / "cache"),
        "HF_ENDPOINT": hub.url,
        "HF_HOME": str(tmp_path / "hf"),
    }
    return env
