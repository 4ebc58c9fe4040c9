"""``genius serve`` with llama.cpp and the real SmolLM2, fetched through the loopback hub.

The official ``openai`` client gets "Paris", streamed and not; Ollama's generate does
too; and cortex's remote engine against a ``genius serve`` process yields the same
events as a local llama.cpp engine for the same greedy request (scripts/metal.sh).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import openai
import pytest

from rusty_genius import ChatMessage, InferenceConfig, LoadOptions, Role
from rusty_genius.engines import LlamaEngine, RemoteEngine
from rusty_genius.server import create_app, open_server
from rusty_genius_testhub import TEST_MODELS
from rusty_genius_testhub.engines import comparable, events_of

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from rusty_genius import Genius
    from rusty_genius_testhub import LoopbackHub

pytestmark = pytest.mark.real

SMOLLM2 = TEST_MODELS["smollm2"]
REF = f"{SMOLLM2.repo}:{SMOLLM2.quantization}"
QUESTION = "What is the capital of France? Answer in one word."


def stream_chat(url: str) -> list[Any]:
    with openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0) as client:
        return list(
            client.chat.completions.create(
                model=REF,
                messages=[{"role": "user", "content": QUESTION}],
                temperature=0,
                max_tokens=16,
                stream=True,
                stream_options={"include_usage": True},
            )
        )


@pytest.mark.usefixtures("smollm2_repo", "llama_cpp_module")
async def test_smollm2_answers_paris_over_openai_and_ollama(
    make_genius: Callable[..., Genius], hub: LoopbackHub
) -> None:
    async with (
        make_genius(backend="llama", endpoint=hub.url) as genius,
        open_server(create_app(genius), port=0) as address,
    ):
        url = address.url
        async with openai.AsyncOpenAI(
            base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=600
        ) as client:
            whole = await client.chat.completions.create(
                model=REF,
                messages=[{"role": "user", "content": QUESTION}],
                temperature=0,
                max_tokens=16,
            )
        chunks = await anyio.to_thread.run_sync(stream_chat, url)
        async with httpx.AsyncClient(base_url=url, timeout=600) as http:
            generated = await http.post(
                "/api/generate",
                json={
                    "model": REF,
                    "prompt": QUESTION,
                    "stream": False,
                    "options": {"temperature": 0, "num_predict": 16},
                },
            )
    content = whole.choices[0].message.content or ""
    assert "Paris" in content
    assert whole.choices[0].finish_reason == "stop"
    assert whole.usage is not None
    assert whole.usage.prompt_tokens > 10  # the chat template's tokens count too
    assert 0 < whole.usage.completion_tokens <= 16
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == content  # greedy: the same answer, streamed
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    assert chunks[-1].usage.prompt_tokens == whole.usage.prompt_tokens
    data = generated.json()
    assert "Paris" in data["response"]
    assert data["eval_count"] == whole.usage.completion_tokens
    assert data["prompt_eval_count"] == whole.usage.prompt_tokens
    assert data["eval_duration"] > 0
    assert data["prompt_eval_duration"] > 0


@pytest.mark.usefixtures("llama_cpp_module")
async def test_remote_engine_on_a_genius_serve_process_equals_local_llama(
    cli: Any, test_models: dict[str, Path]
) -> None:
    requests: list[dict[str, Any]] = [
        {
            "messages": [ChatMessage(role=Role.USER, content=QUESTION)],
            "config": InferenceConfig.greedy(max_tokens=24),
        },
        {
            "prompt": "The capital of France is",
            "config": InferenceConfig.greedy(raw=True, max_tokens=8),
        },
    ]
    local = LlamaEngine()
    await local.load(REF, test_models["smollm2"], LoadOptions())
    try:
        want = [await events_of(local, **request) for request in requests]
    finally:
        await local.unload()
    async with cli.serving("--backend", "llama", "--port", "0", startup=120) as served:
        async with httpx.AsyncClient(base_url=served.url, timeout=600) as http:
            pulled = await http.post("/api/pull", json={"model": REF, "stream": False})
            assert pulled.json() == {"status": "success"}, pulled.text
        remote = RemoteEngine(served.url)
        await remote.load(REF, None, LoadOptions())
        try:
            got = [await events_of(remote, **request) for request in requests]
        finally:
            await remote.unload()
    assert served.returncode == 0, served.log
    for mine, theirs in zip(got, want, strict=True):
        assert comparable(mine) == comparable(theirs)
    assert "Paris" in json.dumps([str(e) for e in got[0]])
