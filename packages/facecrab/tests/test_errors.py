"""facecrab's errors carry the HTTP status their module docstring draws."""

from __future__ import annotations

import re

import pytest

import facecrab
from facecrab import _errors
from rusty_genius_core import AssetError, error_class

# "    ├── OfflineError                404   the model is ..." in the module docstring.
STATUSES = {n: int(s) for n, s in re.findall(r"[├└]── (\w+)\s+(\d{3})", _errors.__doc__ or "")}


def test_the_docstring_draws_every_error() -> None:
    assert sorted(STATUSES) == sorted(_errors.__all__)


@pytest.mark.parametrize("name", sorted(_errors.__all__))
def test_each_error_is_an_asset_error_with_its_status(name: str) -> None:
    cls = getattr(facecrab, name)
    assert issubclass(cls, AssetError)
    assert cls.http_status == STATUSES[name]
    assert cls.user_fault is (STATUSES[name] < 500)
    assert error_class(name) is cls
