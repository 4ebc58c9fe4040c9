"""The remote engine forwards LoRA adapters as llama-server or vLLM takes them, or refuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from rusty_genius_core import AdapterFile, UnsupportedError

from .test_remote import USAGE, Server, chunk, loaded, respond, run, serving, sse

if TYPE_CHECKING:
    from anyio.abc import SocketStream

    from .test_remote import Exchange

ROUTER = AdapterFile(name="router", path=Path("/srv/adapters/router-f16.gguf"))
TONE = AdapterFile(name="tone", path=Path("/other/tone.gguf"), scale=0.5)
OFF = AdapterFile(name="off", path=Path("/srv/off.gguf"), scale=0.0)
ANSWER = sse([chunk(content="hi", finish="stop"), USAGE, "[DONE]"])


def llama_server(server: Server, adapters: list[dict[str, Any]]) -> None:
    plain = server.answer

    async def answer(exchange: Exchange, stream: SocketStream) -> None:
        if exchange.method == "GET" and exchange.path == "/lora-adapters":
            await respond(stream, 200, json.dumps(adapters).encode())
        else:
            await plain(exchange, stream)

    server.answer = answer  # type: ignore[method-assign]
    server.script = ANSWER


def posted(server: Server) -> list[dict[str, Any]]:
    return [e.json for e in server.exchanges if e.method == "POST"]


async def test_llama_server_gets_each_adapter_by_its_id_and_scale() -> None:
    async with serving() as server:
        llama_server(
            server,
            [
                {"id": 0, "path": "/models/router-f16.gguf", "scale": 0.0},
                {"id": 1, "path": "tone.gguf", "scale": 0.0},
            ],
        )
        engine = await loaded(server)
        await run(engine, adapters=[ROUTER, TONE, OFF])
        await run(engine, adapters=[])
        first, second = posted(server)
        assert first["lora"] == [{"id": 0, "scale": 1.0}, {"id": 1, "scale": 0.5}]
        assert first["model"] == "remote-model"
        assert "lora" not in second
        lookups = [e for e in server.exchanges if e.path == "/lora-adapters"]
        assert len(lookups) == 1  # asked once per load


async def test_llama_server_without_the_adapter_is_refused_naming_it() -> None:
    async with serving() as server:
        llama_server(server, [{"id": 0, "path": "/models/other.gguf", "scale": 0.0}])
        engine = await loaded(server)
        with pytest.raises(
            UnsupportedError,
            match=r"has no LoRA adapter 'router' \(router-f16\.gguf\); it has: other, other\.gguf \(start llama-server with --lora router-f16\.gguf\)",
        ):
            await run(engine, adapters=[ROUTER])
        assert posted(server) == []


async def test_vllm_gets_one_adapter_as_a_model_name() -> None:
    async with serving() as server:
        server.models = ["remote-model", "router"]
        server.script = ANSWER
        engine = await loaded(server)
        await run(engine, adapters=[ROUTER, OFF])
        assert posted(server)[0]["model"] == "router"
        assert "lora" not in posted(server)[0]


@pytest.mark.parametrize(
    ("adapters", "problem"),
    [
        (
            [TONE],
            r"serves LoRA adapters as models \(vLLM\): one adapter at scale 1 per request, not tone\*0\.5",
        ),
        (
            [ROUTER, AdapterFile(name="x", path=Path("/x.gguf"))],
            r"one adapter at scale 1 per request, not router\*1, x\*1",
        ),
        (
            [AdapterFile(name="missing", path=Path("/m.gguf"))],
            r"has no /lora-adapters \(not llama-server\) and does not list a model 'missing' \(vLLM serves an adapter as a model: --lora-modules missing=PATH\)",
        ),
    ],
)
async def test_what_a_server_cannot_apply_is_refused_saying_why(
    adapters: list[AdapterFile], problem: str
) -> None:
    async with serving() as server:
        server.models = ["remote-model", "router"]
        server.script = ANSWER
        engine = await loaded(server)
        with pytest.raises(UnsupportedError, match=problem) as err:
            await run(engine, adapters=adapters)
        assert err.value.http_status == 400
        assert posted(server) == []
