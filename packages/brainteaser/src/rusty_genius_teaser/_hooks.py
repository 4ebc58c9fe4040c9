"""The hook a ``conftest.py`` implements to run fixtures its own way."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ._fixture import Fixture
    from ._harness import FixtureResult


@pytest.hookspec(firstresult=True)
def pytest_teaser_run_fixture(fixture: Fixture, backend: str) -> FixtureResult | None:
    """Run ``fixture`` on ``backend`` and return its result; the first non-None answer wins.

    The plugin's own implementation (tried last) calls
    :func:`rusty_genius_teaser.run_fixture`.
    """
