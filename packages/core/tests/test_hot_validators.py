"""The validators on the event hot path take shortcuts that must never let a bad value in.

``typed`` passes a value of exactly a listed type without further checks, and a request id
that passed once is remembered (every output of a request carries it again). Neither may
change what is accepted.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rusty_genius_core import (
    BrainstemInput,
    BrainstemOutput,
    Cancel,
    Content,
    ListModels,
    ModelStatus,
    ProcessStart,
    ProtocolError,
    Thought,
    ThoughtDelta,
    ThoughtStart,
)
from rusty_genius_core._protocol import _CHECKED_IDS, _CHECKED_IDS_MAX


class Text(str):
    """A str subclass: accepted where a str is (as before the shortcut)."""

    __slots__ = ()


def test_typed_still_refuses_what_it_refused() -> None:
    assert Content(text=Text("x")).text == "x"
    assert Thought(event=ThoughtStart()).event == ThoughtStart()
    with pytest.raises(ProtocolError, match=r"Content\.text must be str, got 1"):
        Content(text=1)  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match=r"Thought\.event must be"):
        Thought(event=Content(text="x"))  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match=r"ProcessStart\.cold must be bool, got 1"):
        ProcessStart(cold=1)  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match=r"ModelStatus\.downloaded must be bool"):
        ModelStatus(name="m", downloaded=0)  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match=r"BrainstemOutput\.body must be"):
        BrainstemOutput(request_id="r", body=ThoughtDelta(text="x"))  # type: ignore[arg-type]


BAD_IDS = ["", "x" * 129, "has space", "new\nline", "ok\n", "é", "a/b", None, 7]


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
def test_a_bad_request_id_is_refused_however_many_good_ones_came_before(bad: object) -> None:
    for i in range(3):
        BrainstemOutput(request_id="good-1", body=Content(text=f"{i}"))
    BrainstemOutput(request_id="ok", body=Content(text="x"))
    with pytest.raises(ProtocolError, match=r"BrainstemOutput\.request_id must be 1-128"):
        BrainstemOutput(request_id=bad, body=Content(text="x"))  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match=r"BrainstemInput\.request_id"):
        BrainstemInput(request_id=bad, command=ListModels())  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match=r"Cancel\.target"):
        Cancel(target=bad)  # type: ignore[arg-type]


def test_a_str_subclass_id_is_checked_every_time() -> None:
    class Sly(str):
        """Claims to equal a checked id; its own characters are not allowed."""

        __slots__ = ()

        def __eq__(self, other: object) -> bool:
            return True

        def __hash__(self) -> int:
            return hash("good-1")

    BrainstemOutput(request_id="good-1", body=Content(text="x"))
    with pytest.raises(ProtocolError, match="request_id"):
        BrainstemOutput(request_id=Sly("not ok"), body=Content(text="x"))


def test_the_memory_of_checked_ids_stays_bounded() -> None:
    for i in range(_CHECKED_IDS_MAX + 100):
        BrainstemOutput(request_id=f"req-{i}", body=Content(text="x"))
        assert len(_CHECKED_IDS) <= _CHECKED_IDS_MAX
    with pytest.raises(ProtocolError):
        BrainstemOutput(request_id="req 1", body=Content(text="x"))


@settings(max_examples=300)
@given(st.text(max_size=140))
def test_any_id_is_accepted_exactly_when_it_matches_the_pattern(value: str) -> None:
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-")
    valid = 1 <= len(value) <= 128 and set(value) <= allowed
    for _ in range(2):  # the second time may come from the memory of checked ids
        try:
            BrainstemOutput(request_id=value, body=Content(text="x"))
        except ProtocolError:
            assert not valid
        else:
            assert valid
