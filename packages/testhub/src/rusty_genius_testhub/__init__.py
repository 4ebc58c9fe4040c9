"""Test helpers for rusty-genius: the wheel-shipped test models and a loopback hub.

Not a runtime dependency of any library package (an import contract checks it).
"""

from __future__ import annotations

from ._models import TEST_MODELS as TEST_MODELS
from ._models import TestModel as TestModel
from ._models import default_models_dir as default_models_dir
from ._models import ensure_test_models as ensure_test_models

__all__ = ["TEST_MODELS", "TestModel", "default_models_dir", "ensure_test_models"]
