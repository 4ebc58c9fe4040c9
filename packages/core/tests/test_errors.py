"""The error tree: one root, and the standard-library base its docstring promises."""

from __future__ import annotations

import builtins
import re

import pytest

import rusty_genius_core
from rusty_genius_core import GeniusError, _errors

# "    ├── ProtocolError      (ValueError)   a message ..." in the module docstring.
DOCUMENTED = dict(re.findall(r"[├└]── (\w+)\s+\((\w+)\)", _errors.__doc__ or ""))
ERRORS = sorted(
    name
    for name in _errors.__all__
    if name != "GeniusError" and isinstance(getattr(_errors, name), type)
)


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
    assert {e.__name__ for e in exported} == set(ERRORS) | {"GeniusError"}


# "    ├── ProtocolError  (ValueError)  400  ..." : the status column of the drawing.
STATUSES = {
    n: int(s) for n, s in re.findall(r"[├└]── (\w+)\s+\(\w+\)\s+(\d{3})", _errors.__doc__ or "")
}


@pytest.mark.parametrize("name", ERRORS)
def test_each_error_carries_its_documented_status_and_fault(name: str) -> None:
    cls = getattr(rusty_genius_core, name)
    assert cls.http_status == STATUSES[name]
    assert cls.user_fault is (400 <= STATUSES[name] < 500)


def test_the_root_is_a_server_error_and_subclasses_inherit_their_status() -> None:
    assert GeniusError.http_status == 500
    assert GeniusError.user_fault is False

    class _Rejected(rusty_genius_core.ConfigError):
        pass

    assert _Rejected.http_status == 400
    assert _Rejected.user_fault is True


def test_error_class_finds_every_public_error_by_name() -> None:
    for name in [*ERRORS, "GeniusError"]:
        if name == "GeniusError":
            assert rusty_genius_core.error_class(name) is None  # the root itself is not a subclass
        else:
            assert rusty_genius_core.error_class(name) is getattr(rusty_genius_core, name)
    assert rusty_genius_core.error_class("NoSuchError") is None


def test_a_private_or_second_class_of_a_name_does_not_take_it() -> None:
    class _Hidden(GeniusError):
        pass

    class ProtocolError(GeniusError):  # a user's class that reuses a public name
        pass

    assert rusty_genius_core.error_class("_Hidden") is None
    assert rusty_genius_core.error_class("ProtocolError") is rusty_genius_core.ProtocolError
