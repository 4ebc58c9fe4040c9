"""The error tree: one root, and the standard-library base its docstring promises."""

from __future__ import annotations

import builtins
import re

import pytest

import rusty_genius_core
from rusty_genius_core import GeniusError, _errors

# "    ├── ProtocolError      (ValueError)   a message ..." in the module docstring.
DOCUMENTED = dict(re.findall(r"[├└]── (\w+)\s+\((\w+)\)", _errors.__doc__ or ""))
ERRORS = sorted(name for name in _errors.__all__ if name != "GeniusError")


def test_the_docstring_draws_every_error() -> None:
    assert sorted(DOCUMENTED) == ERRORS
    assert len(ERRORS) >= 5


@pytest.mark.parametrize("name", ERRORS)
def test_error_subclasses_genius_error_and_its_documented_base(name: str) -> None:
    cls = getattr(rusty_genius_core, name)
    base = getattr(builtins, DOCUMENTED[name])
    assert isinstance(base, type)
    assert issubclass(base, Exception)
    assert issubclass(cls, GeniusError)
    assert issubclass(cls, base)
    error = cls("model 'x' is wrong")
    assert error.message == "model 'x' is wrong"
    assert str(error) == "model 'x' is wrong"
    with pytest.raises(base):
        raise error


def test_genius_error_is_an_exception_with_a_message() -> None:
    assert issubclass(GeniusError, Exception)
    assert GeniusError().message == ""
    assert GeniusError("boom").message == "boom"


def test_every_exported_exception_is_in_the_tree() -> None:
    exported = [
        getattr(rusty_genius_core, n)
        for n in rusty_genius_core.__all__
        if isinstance(getattr(rusty_genius_core, n), type)
        and issubclass(getattr(rusty_genius_core, n), BaseException)
    ]
    assert exported
    assert all(issubclass(e, GeniusError) for e in exported)
    assert {e.__name__ for e in exported} == set(_errors.__all__)
