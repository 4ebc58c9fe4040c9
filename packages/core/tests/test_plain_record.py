"""The shared methods of plain ``__slots__`` records (``rusty_genius_core._record``)."""

from __future__ import annotations

from typing import Final

import pytest

from rusty_genius_core._record import PlainRecord, PlainRepr


class _Pair(PlainRecord):
    __match_args__ = ("right", "left")
    __slots__ = ("left", "right")

    def __init__(self, right: int, left: object = None) -> None:
        self.right: Final = right
        self.left: Final = left


class _Other(_Pair):
    """The same fields, another class."""

    __slots__ = ()


class _Box(PlainRepr):
    __slots__ = ("a", "b")

    def __init__(self) -> None:
        self.a = 1
        self.b: object = "x"


def test_repr_names_the_fields_in_init_order() -> None:
    assert repr(_Pair(1, "a")) == "_Pair(right=1, left='a')"


def test_equality_and_hash_follow_the_fields_and_the_class() -> None:
    assert _Pair(1, (2,)) == _Pair(1, (2,))
    assert hash(_Pair(1, (2,))) == hash(_Pair(1, (2,)))
    assert _Pair(1) != _Pair(2)
    assert _Pair(1) != _Other(1)  # same fields, another class
    assert _Pair(1) != (1, None)
    assert len({_Pair(1), _Pair(1), _Pair(2)}) == 2


def test_match_args_allow_positional_patterns() -> None:
    match _Pair(3, "l"):
        case _Pair(3, left):
            assert left == "l"
        case _:  # pragma: no cover
            pytest.fail("no match")


def test_plain_repr_keeps_identity_and_shows_recursion() -> None:
    box, same = _Box(), _Box()
    assert box != same
    assert box == box
    box.b = box
    assert repr(box) == "_Box(a=1, b=...)"  # no __match_args__: the slots, in order


class _Base(PlainRecord):
    __slots__ = ("name",)

    def __init__(self, *, name: str) -> None:
        self.name: Final = name


class _Derived(_Base):
    __slots__ = ("size", "note")  # noqa: RUF023  (the order the repr shows)

    def __init__(self, *, name: str, size: int, note: str = "") -> None:
        super().__init__(name=name)
        self.size: Final = size
        self.note: Final = note


def test_fields_without_match_args_are_the_slots_bases_first() -> None:
    one = _Derived(name="a", size=1)
    assert repr(one) == "_Derived(name='a', size=1, note='')"
    assert one == _Derived(name="a", size=1)
    assert one != _Derived(name="a", size=1, note="x")
    assert one != _Base(name="a")


def test_evolve_copies_with_changes_and_keeps_the_class() -> None:
    one = _Derived(name="a", size=1, note="n")
    two = one.evolve(size=2)
    assert type(two) is _Derived
    assert two == _Derived(name="a", size=2, note="n")
    assert one.size == 1  # unchanged
    assert _Pair(1, "l").evolve(left="r") == _Pair(1, "r")
    with pytest.raises(TypeError):
        one.evolve(colour="red")
