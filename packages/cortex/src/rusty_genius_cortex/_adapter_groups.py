"""Which adapter set a decoding step serves, when requests under several wait.

llama.cpp sets LoRA adapters on the whole context, so one ``llama_decode`` can only
batch sequences under the same adapter set. :func:`next_group` takes turns: each step
serves the next group (in a stable order) after the one the last step served, so with
``k`` groups at work every group advances once every ``k`` steps, none starves, and a
lone group runs every step as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["next_group"]

K = TypeVar("K")


def next_group(groups: Sequence[K], last: K | None) -> K | None:
    """The group to serve now: the one after ``last`` among ``groups``, cyclically.

    ``groups`` are the distinct keys with work, in a stable order (the slots'); ``None``
    when there are none. When ``last`` has no work any more, the first group is next.
    """
    if not groups:
        return None
    if len(groups) == 1:
        return groups[0]
    if last in groups:
        return groups[(groups.index(last) + 1) % len(groups)]
    return groups[0]
