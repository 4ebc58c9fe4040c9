"""rusty-genius QA: fixture-driven integration tests.

Fixture files under ``fixtures/{ORG}/{REPO}/{QUANT}/{TEST}.md`` hold a prompt
and what a model's answer must (not) contain. :func:`scan_fixtures` reads and
validates a tree; the pytest plugin (:mod:`rusty_genius_teaser.plugin`, not
imported here) turns each file into tests.
"""

from __future__ import annotations

from rusty_genius_core._public import publish as _publish

from ._fixture import Expectations as Expectations
from ._fixture import Fixture as Fixture
from ._fixture import FixtureBackend as FixtureBackend
from ._fixture import FixtureError as FixtureError
from ._fixture import HubRequirement as HubRequirement
from ._fixture import PromptMode as PromptMode
from ._fixture import check_expectations as check_expectations
from ._fixture import load_fixture as load_fixture
from ._fixture import scan_fixtures as scan_fixtures
from ._harness import FixtureResult as FixtureResult
from ._harness import run_fixture as run_fixture

__all__ = [
    "Expectations",
    "Fixture",
    "FixtureBackend",
    "FixtureError",
    "FixtureResult",
    "HubRequirement",
    "PromptMode",
    "check_expectations",
    "load_fixture",
    "run_fixture",
    "scan_fixtures",
]

_publish(__name__)  # reprs and pickles name this package, not its private modules
