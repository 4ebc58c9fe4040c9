"""Request builders the brainstem, genius and fixture tests share.

``infer()`` is the greedy Pinky request most orchestrator tests send; ``WORDS`` is a
40-token prompt Pinky echoes word by word, long enough to still be running while a
test does something else.
"""

from __future__ import annotations

from typing import Final

from rusty_genius_core import Complete, FinishReason, Infer, InferenceConfig

__all__ = ["WORDS", "finish", "infer"]

WORDS: Final = " ".join(f"w{i}" for i in range(40))
"""A 40-token echo: a long-running request."""


def infer(prompt: str = "one two three", model: str = "alpha", **fields: object) -> Infer:
    """A greedy :class:`Infer` of ``prompt`` on ``model``; ``fields`` are Infer's others."""
    return Infer(model=model, prompt=prompt, config=InferenceConfig.greedy(), **fields)  # type: ignore[arg-type]


def finish(body: object) -> FinishReason:
    """The finish reason of a final body that must be a :class:`Complete`."""
    assert isinstance(body, Complete), body
    return body.usage.finish_reason
