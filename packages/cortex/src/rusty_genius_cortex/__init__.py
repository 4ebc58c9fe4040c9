"""rusty-genius cortex: engines that turn a prompt into a stream of inference events."""

from __future__ import annotations

from ._engine import Engine as Engine
from ._engine import StopSignal as StopSignal

__all__ = ["Engine", "StopSignal"]
