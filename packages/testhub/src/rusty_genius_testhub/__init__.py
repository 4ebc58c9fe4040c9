"""Test helpers for rusty-genius: the wheel-shipped test models and a loopback hub.

Not a runtime dependency of any library package (an import contract checks it).
The pytest fixtures live in :mod:`rusty_genius_testhub.pytest_plugin`.
"""

from __future__ import annotations

from ._catalog import HubFile as HubFile
from ._catalog import HubRepo as HubRepo
from ._faults import StallHandle as StallHandle
from ._hub import LoopbackHub as LoopbackHub
from ._hub import open_hub as open_hub
from ._hub import run_hub_in_thread as run_hub_in_thread
from ._log import RequestKind as RequestKind
from ._log import RequestRecord as RequestRecord
from ._models import TEST_MODELS as TEST_MODELS
from ._models import TestModel as TestModel
from ._models import default_models_dir as default_models_dir
from ._models import ensure_test_models as ensure_test_models
from ._models import sha256_of as sha256_of
from ._recorder import EventLog as EventLog
from ._repos import SMOLLM2_FAKE_QUANTS as SMOLLM2_FAKE_QUANTS
from ._repos import add_smollm2_repo as add_smollm2_repo
from ._repos import fake_gguf as fake_gguf

__all__ = [
    "SMOLLM2_FAKE_QUANTS",
    "TEST_MODELS",
    "EventLog",
    "HubFile",
    "HubRepo",
    "LoopbackHub",
    "RequestKind",
    "RequestRecord",
    "StallHandle",
    "TestModel",
    "add_smollm2_repo",
    "default_models_dir",
    "ensure_test_models",
    "fake_gguf",
    "open_hub",
    "run_hub_in_thread",
    "sha256_of",
]
