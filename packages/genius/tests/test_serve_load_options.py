"""Ollama's ``num_ctx`` over HTTP: it reloads the model for that request only.

A request without ``num_ctx`` gets the model's default options again (Ollama's
scheduler compares each request's options with the loaded runner's), not the
context some earlier request asked for.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from rusty_genius.server import create_app, open_server
from rusty_genius_core import InferenceConfig, LoadOptions
from rusty_genius_cortex import EngineRequest, PinkyEngine

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from rusty_genius import Genius
    from rusty_genius_core import ModelSpec

MODEL = "pinky-test"


class RecordingPinky(PinkyEngine):
    """Pinky that records the options of every load and the config of every request
    (class-wide: engines come and go)."""

    loads: ClassVar[list[LoadOptions]] = []
    configs: ClassVar[list[InferenceConfig]] = []

    async def _prepare(self, model: str, request: EngineRequest) -> EngineRequest:
        RecordingPinky.configs.append(request.config)
        return await super()._prepare(model, request)

    async def _load_model(
        self, name: str, path: Path | None, options: LoadOptions, spec: ModelSpec | None
    ) -> None:
        RecordingPinky.loads.append(options)
        await super()._load_model(name, path, options, spec)


@asynccontextmanager
async def served(make_genius: Callable[..., Genius]) -> AsyncIterator[httpx.AsyncClient]:
    RecordingPinky.loads, RecordingPinky.configs = [], []
    async with (
        make_genius(engine_factory=RecordingPinky) as genius,
        open_server(create_app(genius), port=0) as address,
        httpx.AsyncClient(base_url=address.url, timeout=60) as http,
    ):
        yield http


def chat(**extra: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hi"}],
        "stream": False,
        **extra,
    }


async def test_num_ctx_does_not_stick_to_later_requests(make_genius: Callable[..., Genius]) -> None:
    async with served(make_genius) as http:
        first = await http.post("/api/chat", json=chat())
        small = await http.post("/api/chat", json=chat(options={"num_ctx": 256}))
        again = await http.post("/api/chat", json=chat(options={"num_ctx": 256}))
        openai = await http.post(
            "/v1/chat/completions",
            json={"model": MODEL, "messages": [{"role": "user", "content": "x"}]},
        )
        plain = await http.post("/api/chat", json=chat())
    assert [r.status_code for r in (first, small, again, openai, plain)] == [200] * 5
    # Loaded with the default, reloaded with 256 (once: the second 256 request finds it),
    # then back to the default for the OpenAI request, which the last one finds loaded.
    assert RecordingPinky.loads == [LoadOptions(), LoadOptions(context_size=256), LoadOptions()]


async def test_a_load_only_request_without_options_restores_the_default(
    make_genius: Callable[..., Genius],
) -> None:
    async with served(make_genius) as http:
        await http.post("/api/generate", json={"model": MODEL, "options": {"num_ctx": 512}})
        await http.post("/api/generate", json={"model": MODEL})
        await http.post("/api/generate", json={"model": MODEL, "prompt": "hi", "stream": False})
    assert RecordingPinky.loads == [LoadOptions(context_size=512), LoadOptions()]


async def test_cache_prompt_reaches_the_engine_and_is_checked(
    make_genius: Callable[..., Genius],
) -> None:
    async with served(make_genius) as http:
        url = "/v1/chat/completions"
        body: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": "x"}]}
        assert (await http.post(url, json={**body, "cache_prompt": False})).status_code == 200
        assert (await http.post(url, json=body)).status_code == 200
        bad = await http.post(url, json={**body, "cache_prompt": "sometimes"})
    assert bad.status_code == 400
    assert "cache_prompt" in bad.text
    assert [c.cache_prompt for c in RecordingPinky.configs] == [False, None]
