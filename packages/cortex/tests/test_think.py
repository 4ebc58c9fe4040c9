"""The streaming think parser: fixed cases, every split of a tag, and hypothesis properties.

The reference below is a separate, non-streaming reading of the documented rules
(find the tags in the whole text, strip whitespace at the tag edges); the
streaming parser must agree with it for any text cut into any chunks.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rusty_genius_core import (
    Content,
    InferenceEvent,
    Thought,
    ThoughtDelta,
    ThoughtStart,
    ThoughtStop,
)
from rusty_genius_cortex import ThinkParser, prompt_opens_thinking

if TYPE_CHECKING:
    from collections.abc import Sequence

Norm = list[tuple[str, str]]


def norm(events: Sequence[InferenceEvent]) -> Norm:
    """Events as (kind, text) with adjacent deltas and contents merged."""
    out: Norm = []
    for event in events:
        if isinstance(event, Content):
            kind, text = "content", event.text
        elif isinstance(event, Thought) and isinstance(event.event, ThoughtDelta):
            kind, text = "delta", event.event.text
        elif isinstance(event, Thought) and isinstance(event.event, ThoughtStart):
            kind, text = "start", ""
        elif isinstance(event, Thought) and isinstance(event.event, ThoughtStop):
            kind, text = "stop", ""
        else:  # pragma: no cover - the parser emits nothing else
            raise AssertionError(event)
        assert kind in ("start", "stop") or text, "empty text event"
        if out and kind in ("content", "delta") and out[-1][0] == kind:
            out[-1] = (kind, out[-1][1] + text)
        else:
            out.append((kind, text))
    return out


def parse(
    chunks: Sequence[str], *, show_thinking: bool = True, start_in_thinking: bool = False
) -> list[InferenceEvent]:
    parser = ThinkParser(show_thinking=show_thinking, start_in_thinking=start_in_thinking)
    events: list[InferenceEvent] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    events.extend(parser.finish())
    return events


def reference(text: str, *, show_thinking: bool = True, start_in_thinking: bool = False) -> Norm:
    """The documented rules, applied to the whole text at once."""
    out: Norm = []

    def add(kind: str, body: str = "") -> None:
        if kind == "content":
            if body:
                out.append((kind, body))
        elif show_thinking and (kind != "delta" or body):
            out.append((kind, body))

    pos, in_thought, after_tag = 0, start_in_thinking, start_in_thinking
    if in_thought:
        add("start")
    while pos < len(text) or in_thought:
        if in_thought:
            end = text.find("</think>", pos)
            body = text[pos:] if end == -1 else text[pos:end]
            if end == -1:  # output cut inside the thought: a cut-off "</think>" is dropped
                for k in range(len("</think>") - 1, 1, -1):
                    if body.endswith("</think>"[:k]):
                        body = body[:-k]
                        break
            add("delta", body.strip())
            add("stop")
            in_thought = False
            if end == -1:
                break
            pos, after_tag = end + len("</think>"), True
            continue
        opens, closes = text.find("<think>", pos), text.find("</think>", pos)
        found = [i for i in (opens, closes) if i != -1]
        end = min(found) if found else len(text)
        segment = text[pos:end]
        if after_tag:
            segment = segment.lstrip()
        add("content", segment)
        if not found:
            break
        if end == opens:
            add("start")
            in_thought, pos = True, end + len("<think>")
        else:  # a stray </think>: dropped
            pos = end + len("</think>")
        after_tag = True
    merged: Norm = []
    for kind, body in out:
        if merged and kind in ("content", "delta") and merged[-1][0] == kind:
            merged[-1] = (kind, merged[-1][1] + body)
        else:
            merged.append((kind, body))
    return merged


# --- fixed cases -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Paris", [("content", "Paris")]),
        (
            "<think>\nNarf!\n</think>\n\nParis",
            [("start", ""), ("delta", "Narf!"), ("stop", ""), ("content", "Paris")],
        ),
        ("<think></think>Paris", [("start", ""), ("stop", ""), ("content", "Paris")]),
        ("<think>  \n </think>  \n", [("start", ""), ("stop", "")]),
        (
            "<think>a  \n b</think>c",
            [("start", ""), ("delta", "a  \n b"), ("stop", ""), ("content", "c")],
        ),
        (
            "Hi <think>x</think> there",
            [("content", "Hi "), ("start", ""), ("delta", "x"), ("stop", ""), ("content", "there")],
        ),
        ("a < b > c", [("content", "a < b > c")]),
        ("<thinking>", [("content", "<thinking>")]),
        ("x<<think>y", [("content", "x<"), ("start", ""), ("delta", "y"), ("stop", "")]),
        ("<think>a<think>b</think>", [("start", ""), ("delta", "a<think>b"), ("stop", "")]),
        ("stray </think>\n after", [("content", "stray after")]),
        ("a <thin", [("content", "a <thin")]),
        ("<think>a </th", [("start", ""), ("delta", "a"), ("stop", "")]),  # a cut-off close tag
        ("<think>a <", [("start", ""), ("delta", "a <"), ("stop", "")]),  # one '<' may be text
        (
            "<think>1</think><think>2</think>3",
            [
                ("start", ""),
                ("delta", "1"),
                ("stop", ""),
                ("start", ""),
                ("delta", "2"),
                ("stop", ""),
                ("content", "3"),
            ],
        ),
    ],
)
def test_fixed_cases(text: str, expected: Norm) -> None:
    assert norm(parse([text])) == expected
    assert reference(text) == expected


def test_output_truncated_inside_a_thought_closes_it_without_content() -> None:
    events = parse(["<think>\nI am still thin", "king about it\n"])
    assert norm(events) == [("start", ""), ("delta", "I am still thinking about it"), ("stop", "")]
    assert not any(isinstance(e, Content) for e in events)
    assert isinstance(events[-1], Thought)
    assert isinstance(events[-1].event, ThoughtStop)


def test_start_in_thinking_for_templates_that_opened_the_block() -> None:
    events = parse(["\nplan", " it</think>\n\nanswer"], start_in_thinking=True)
    assert norm(events) == [
        ("start", ""),
        ("delta", "plan it"),
        ("stop", ""),
        ("content", "answer"),
    ]
    # Nothing generated at all: the opened block is still closed.
    assert norm(parse([], start_in_thinking=True)) == [("start", ""), ("stop", "")]
    assert norm(parse(["  "], start_in_thinking=True)) == [("start", ""), ("stop", "")]


def test_show_thinking_false_drops_thoughts_and_leaks_nothing() -> None:
    events = parse(["<think>secret</think>\nPa", "ris"], show_thinking=False)
    assert events == [Content(text="Pa"), Content(text="ris")]
    truncated = parse(["<think>secret, never fini"], show_thinking=False)
    assert truncated == []
    opened = parse(["secret</think>answer"], show_thinking=False, start_in_thinking=True)
    assert opened == [Content(text="answer")]


def test_events_are_emitted_as_soon_as_they_are_certain() -> None:
    parser = ThinkParser()
    assert parser.feed("Hello <") == [Content(text="Hello ")]  # "<" may start a tag
    assert parser.feed("b") == [Content(text="<b")]  # it did not
    assert parser.feed("<think") == []
    assert parser.feed(">") == [Thought(event=ThoughtStart())]
    assert parser.feed("\n") == []  # whitespace after <think> is dropped
    assert parser.feed("x ") == [Thought(event=ThoughtDelta(text="x"))]  # " " may precede </think>
    assert parser.feed("y") == [Thought(event=ThoughtDelta(text=" y"))]
    assert parser.in_thought
    assert parser.feed("</think>") == [Thought(event=ThoughtStop())]
    assert parser.finish() == []
    assert parser.finish() == []
    with pytest.raises(RuntimeError, match="after finish"):
        parser.feed("more")


def test_one_call_merges_its_text_into_one_event_per_run() -> None:
    assert ThinkParser().feed("a<b<c") == [Content(text="a<b<c")]
    assert ThinkParser().feed("<think>x\n\ny</think>z") == [
        Thought(event=ThoughtStart()),
        Thought(event=ThoughtDelta(text="x\n\ny")),
        Thought(event=ThoughtStop()),
        Content(text="z"),
    ]


def test_each_plain_chunk_of_an_answer_is_one_content_event_as_it_came() -> None:
    # The common case (in content, nothing held back, no "<") takes a short path in feed();
    # its events are exactly the general path's: one Content per chunk, whitespace kept.
    parser = ThinkParser()
    assert parser.feed("<think>\nhm\n</think>\n\n") == [
        Thought(event=ThoughtStart()),
        Thought(event=ThoughtDelta(text="hm")),
        Thought(event=ThoughtStop()),
    ]
    chunks = ["The", " answer", " ", "\n", " is", " 42.", "\n\n"]
    assert [parser.feed(c) for c in chunks] == [[Content(text=c)] for c in chunks]
    assert parser.feed("") == []
    assert parser.feed(" <") == [Content(text=" ")]  # "<" may start a tag: held back
    assert parser.feed("3") == [Content(text="<3")]
    assert parser.feed("</think>") == []  # a stray close tag is dropped...
    assert parser.feed("  ok") == [Content(text="ok")]  # ...with the whitespace after it
    assert parser.feed(" done") == [Content(text=" done")]
    assert parser.finish() == []


@pytest.mark.parametrize("tag", ["<think>", "</think>"])
def test_tags_split_at_every_position(tag: str) -> None:
    text = f"before {tag}\n middle </think>\nafter <think>end"
    whole = norm(parse([text]))
    for i in range(len(text) + 1):
        for j in range(i, len(text) + 1):
            assert norm(parse([text[:i], text[i:j], text[j:]])) == whole, (i, j)
    assert whole == reference(text)


def test_every_single_character_chunking() -> None:
    text = "<think>\n\nLet me see.\n\n</think>\n\nThe answer </think> is <b>42</b>. <think>"
    assert norm(parse(list(text))) == norm(parse([text])) == reference(text)


def test_prompt_opens_thinking() -> None:
    assert prompt_opens_thinking("<|im_start|>assistant\n<think>\n")
    assert not prompt_opens_thinking("<|im_start|>assistant\n")
    assert not prompt_opens_thinking("<think>x</think>")


# --- properties ------------------------------------------------------------------------------

_PIECES = st.sampled_from(
    ["<think>", "</think>", "<", ">", "/", "<th", "ink>", "</", "think", "\n", " ", "a", "b c"]
)
_TEXT = st.lists(st.one_of(_PIECES, st.text(alphabet="<>/thinkab \n\t", max_size=6)), max_size=30)


@st.composite
def text_and_chunks(draw: st.DrawFn) -> tuple[str, list[str]]:
    text = "".join(draw(_TEXT))
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=12)))
    bounds = [0, *cuts, len(text)]
    return text, [text[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=600, deadline=None)
@given(
    case=text_and_chunks(),
    show=st.booleans(),
    start=st.booleans(),
)
def test_any_split_gives_the_events_of_the_whole_text(
    case: tuple[str, list[str]], show: bool, start: bool
) -> None:
    text, chunks = case
    split = parse(chunks, show_thinking=show, start_in_thinking=start)
    whole = parse([text], show_thinking=show, start_in_thinking=start)
    assert (
        norm(split) == norm(whole) == reference(text, show_thinking=show, start_in_thinking=start)
    )


@settings(max_examples=300, deadline=None)
@given(case=text_and_chunks(), start=st.booleans())
def test_hiding_thoughts_changes_nothing_else(case: tuple[str, list[str]], start: bool) -> None:
    _text, chunks = case
    shown = norm(parse(chunks, start_in_thinking=start))
    hidden = norm(parse(chunks, show_thinking=False, start_in_thinking=start))
    assert hidden == norm([Content(text=t) for k, t in shown if k == "content"])
    assert all(k == "content" for k, _ in hidden)


@settings(max_examples=300, deadline=None)
@given(case=text_and_chunks(), start=st.booleans())
def test_thoughts_are_balanced(case: tuple[str, list[str]], start: bool) -> None:
    _, chunks = case
    depth = 0
    for kind, _ in norm(parse(chunks, start_in_thinking=start)):
        if kind == "start":
            assert depth == 0
            depth = 1
        elif kind == "stop":
            assert depth == 1
            depth = 0
        elif kind == "delta":
            assert depth == 1
        else:
            assert depth == 0
    assert depth == 0
