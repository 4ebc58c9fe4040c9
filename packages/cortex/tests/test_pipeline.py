"""Stop strings and the shared token pipeline (stop strings, think parser, usage)."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from rusty_genius_core import Complete, Content, FinishReason, InferenceConfig, Thought
from rusty_genius_cortex import StopMatcher, TokenPipeline, UsageMeter


def run_stops(stops: list[str], chunks: list[str]) -> tuple[str, bool]:
    matcher = StopMatcher(stops)
    out = []
    for chunk in chunks:
        text, hit = matcher.feed(chunk)
        out.append(text)
        if hit:
            return "".join(out), True
    return "".join(out) + matcher.flush(), False


def test_stop_string_split_across_tokens() -> None:
    assert run_stops(["\n\n"], ["Paris", ".\n", "\nMore"]) == ("Paris.", True)
    assert run_stops(["END"], ["a E", "N", "D b"]) == ("a ", True)
    assert run_stops(["END"], ["a E", "N", "d b"]) == ("a ENd b", False)
    assert run_stops([], ["x"]) == ("x", False)


def test_held_back_only_while_a_stop_could_start() -> None:
    matcher = StopMatcher(["<|end|>"])
    assert matcher.feed("hello <|") == ("hello ", False)
    assert matcher.feed("x") == ("<|x", False)
    assert matcher.flush() == ""


def test_the_stop_that_completes_first_wins() -> None:
    assert run_stops(["bc", "a"], ["xabc"]) == ("x", True)
    assert run_stops(["abcd", "b"], ["xabcd"]) == ("xa", True)
    assert run_stops(["abcd", "b"], ["xab", "cd"]) == ("xa", True)
    assert run_stops(["c", "aca"], ["aac", "a"]) == ("aa", True)
    assert run_stops(["bc", "abc"], ["xabc"]) == ("x", True)  # same end: the longer one


@settings(max_examples=400, deadline=None)
@given(
    text=st.text(alphabet="abc\n", max_size=40),
    stops=st.lists(st.text(alphabet="abc\n", min_size=1, max_size=4), max_size=3),
    cuts=st.lists(st.integers(0, 40), max_size=10),
)
def test_stop_matching_ignores_chunking(text: str, stops: list[str], cuts: list[int]) -> None:
    bounds = [0, *sorted(c for c in cuts if c <= len(text)), len(text)]
    chunks = [text[a:b] for a, b in itertools.pairwise(bounds)]
    # The stop that completes first (earliest end, then earliest start) wins.
    found = [(i + len(s), i) for s in stops if (i := text.find(s)) != -1]
    expected = (text[: min(found)[1]], True) if found else (text, False)
    assert run_stops(stops, chunks) == expected


def test_pipeline_counts_tokens_and_ends_with_complete() -> None:
    meter = UsageMeter()
    pipe = TokenPipeline(InferenceConfig(max_tokens=5, stop=("STOP",)), meter=meter)
    meter.prompt_started(3)
    events = []
    for token in ["<think>", "hm", "</think>", "Hi", " ST"]:
        new, hit = pipe.token(token)
        events += new
        assert not hit
    assert pipe.at_max_tokens
    events += pipe.complete(FinishReason.LENGTH)
    assert [type(e) for e in events] == [Thought] * 3 + [Content] * 3 + [Complete]
    assert events[3:6] == [Content(text="Hi"), Content(text=" "), Content(text="ST")]
    # "ST" was held back as a possible start of "STOP" and released at the end.
    final = events[-1]
    assert isinstance(final, Complete)
    assert final.usage.completion_tokens == 5
    assert final.usage.prompt_tokens == 3
    assert final.usage.finish_reason is FinishReason.LENGTH


def test_pipeline_stop_string_inside_a_thought_closes_it() -> None:
    pipe = TokenPipeline(InferenceConfig(stop=("###",)), meter=UsageMeter())
    events, hit = pipe.token("<think>plan ### more")
    assert hit
    events += pipe.complete(FinishReason.STOP)
    kinds = [type(getattr(e, "event", e)).__name__ for e in events]
    assert kinds == ["ThoughtStart", "ThoughtDelta", "ThoughtStop", "Complete"]
