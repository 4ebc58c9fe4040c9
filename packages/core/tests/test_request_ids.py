"""Request ids are checked where they enter: commands built in code, and anything decoded.

Outputs the brainstem builds itself carry the id of a request it accepted, so building
one checks nothing (see ``test_outputs_are_built_without_validators``).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rusty_genius_core import (
    BrainstemInput,
    BrainstemOutput,
    Cancel,
    ListModels,
    ProtocolError,
    from_dict,
)

BAD_IDS = ["", "x" * 129, "has space", "new\nline", "ok\n", "é", "a/b", None, 7]


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
def test_a_bad_request_id_is_refused_where_it_enters(bad: object) -> None:
    with pytest.raises(ProtocolError, match=r"BrainstemInput\.request_id"):
        BrainstemInput(request_id=bad, command=ListModels())  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match=r"Cancel\.target"):
        Cancel(target=bad)  # type: ignore[arg-type]
    output = {"request_id": bad, "body": {"type": "ack"}}
    with pytest.raises(ProtocolError, match=r"^\$\.request_id: "):
        from_dict(output, BrainstemOutput)


@settings(max_examples=300)
@given(st.text(max_size=140))
def test_any_id_is_accepted_exactly_when_it_matches_the_pattern(value: str) -> None:
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-")
    valid = 1 <= len(value) <= 128 and set(value) <= allowed
    for build in (
        lambda: BrainstemInput(request_id=value, command=ListModels()),
        lambda: from_dict({"request_id": value, "body": {"type": "ack"}}, BrainstemOutput),
    ):
        try:
            build()
        except ProtocolError:
            assert not valid
        else:
            assert valid
