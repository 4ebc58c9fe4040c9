"""Which requests take the plain-greedy shortcut (the argmax itself is tested on the real model)."""

from __future__ import annotations

from rusty_genius_core import InferenceConfig, Sampling
from rusty_genius_cortex._sampler import plain_greedy
from rusty_genius_cortex._tool_mode import Grammar


def test_greedy_without_penalty_or_grammar_is_plain() -> None:
    assert plain_greedy(InferenceConfig.greedy())
    assert plain_greedy(InferenceConfig(sampling=Sampling(temperature=0.0, repeat_penalty=1.0)))


def test_sampling_a_penalty_or_a_grammar_needs_the_chain() -> None:
    assert not plain_greedy(InferenceConfig())
    assert not plain_greedy(InferenceConfig(sampling=Sampling(temperature=0.0, repeat_penalty=1.1)))
    assert not plain_greedy(InferenceConfig(sampling=Sampling(temperature=0.7, repeat_penalty=1.0)))
    assert not plain_greedy(InferenceConfig.greedy(), Grammar(text='root ::= "x"'))
