"""Every numeric bound of the public API, in one table.

The attrs validators of :mod:`rusty_genius_core` and the pydantic field constraints of
the HTTP server read these constants, so a bound cannot differ between the library and
the wire. Each :class:`Limit` is a closed range unless ``lo_open`` is set; ``None`` is
unbounded on that side.
"""

from __future__ import annotations

from typing import Final, NamedTuple

__all__ = [
    "ADAPTER_SCALE",
    "BYTE_SIZE",
    "CONTEXT_SIZE",
    "DEFAULT_PARALLEL",
    "DURATION",
    "EMBED_DIMENSIONS",
    "GPU_LAYERS",
    "KEEP_ALIVE",
    "MAX_ADAPTERS",
    "MAX_CONTEXT",
    "MAX_EMBED_INPUTS",
    "MAX_STOP_STRINGS",
    "MAX_TOKENS",
    "MAX_TOOLS",
    "MIN_P",
    "PARALLEL",
    "REPEAT_PENALTY",
    "REQUEST_ID_MAX_LENGTH",
    "SEED",
    "TEMPERATURE",
    "THREADS",
    "TOKEN_COUNT",
    "TOOL_NAME_MAX_LENGTH",
    "TOP_K",
    "TOP_P",
    "Limit",
]


class Limit(NamedTuple):
    """A numeric range: ``lo <= value <= hi`` (``lo < value`` when ``lo_open``)."""

    lo: float | None
    hi: float | None
    integer: bool = False
    lo_open: bool = False

    def contains(self, value: float) -> bool:
        if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            return False
        return self.hi is None or value <= self.hi

    def describe(self) -> str:
        """The range in plain words and numbers: ``between 1 and 16777216``."""
        lo, hi = _plain(self.lo), _plain(self.hi)
        if self.lo is None and self.hi is None:
            return "any number"
        if self.hi is None:
            return f"greater than {lo}" if self.lo_open else f"at least {lo}"
        if self.lo is None:
            return f"at most {hi}"
        if self.lo_open:
            return f"greater than {lo} and at most {hi}"
        return f"between {lo} and {hi}"


def _plain(value: float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) >= 1 or value == 0 else repr(value)
    return repr(value)


MAX_CONTEXT: Final = 1 << 24
"""The largest context (and so the largest ``max_tokens``) any request may ask for."""

TEMPERATURE: Final = Limit(0.0, 5.0)
TOP_P: Final = Limit(0.0, 1.0, lo_open=True)
TOP_K: Final = Limit(0, 1 << 20, integer=True)
MIN_P: Final = Limit(0.0, 1.0)
REPEAT_PENALTY: Final = Limit(0.0, 10.0, lo_open=True)
MAX_TOKENS: Final = Limit(1, MAX_CONTEXT, integer=True)
CONTEXT_SIZE: Final = Limit(16, MAX_CONTEXT, integer=True)
SEED: Final = Limit(0, (1 << 32) - 1, integer=True)
THREADS: Final = Limit(1, 1024, integer=True)
PARALLEL: Final = Limit(1, 256, integer=True)
"""Sequences one loaded model serves at once (llama.cpp caps ``n_seq_max`` at 256)."""
DEFAULT_PARALLEL: Final = 4
"""``LoadOptions.parallel`` when nothing sets it: Ollama's ``OLLAMA_NUM_PARALLEL`` default."""
GPU_LAYERS: Final = Limit(-1, None, integer=True)
TOKEN_COUNT: Final = Limit(0, None, integer=True)
BYTE_SIZE: Final = Limit(0, None, integer=True)
DURATION: Final = Limit(0.0, None)
"""Seconds taken or a Unix time: never negative."""
KEEP_ALIVE: Final = Limit(None, None)
"""Seconds a model stays loaded when idle; negative keeps it forever, 0 unloads at once."""
MAX_STOP_STRINGS: Final = 16
TOOL_NAME_MAX_LENGTH: Final = 64
"""OpenAI's bound on a function's name."""
MAX_TOOLS: Final = 128
"""The most tools one request may offer (OpenAI's bound)."""
MAX_EMBED_INPUTS: Final = 2048
"""The most texts one embedding request may carry (OpenAI's bound)."""
EMBED_DIMENSIONS: Final = Limit(1, 1 << 16, integer=True)
"""The ``dimensions`` an embedding may be cut to."""
REQUEST_ID_MAX_LENGTH: Final = 128
ADAPTER_SCALE: Final = Limit(-16.0, 16.0)
"""How strongly a LoRA adapter applies: 1 as trained, 0 not at all, negative inverts it."""
MAX_ADAPTERS: Final = 16
"""The most LoRA adapters one model entry (and so one request) applies."""
