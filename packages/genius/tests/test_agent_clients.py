"""Tools, structured output and embeddings through the clients people use, on Pinky.

``genius serve`` runs on loopback; the official ``openai`` and ``ollama`` clients and
``pydantic-ai`` talk to it unchanged. Pinky's answers are scripted (it calls the named
or first tool with arguments built from the schema, writes the schema's smallest valid
instance, embeds by hashing words), so each test asserts the parsed call or object
itself. The clients are synchronous and run in a worker thread, so every test runs on
asyncio and trio alike.
"""

from __future__ import annotations

import base64
import json
import math
import struct
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import anyio
import httpx
import jsonschema
import ollama
import openai
import pytest
from pydantic import BaseModel, Field

from rusty_genius import ChatMessage, Content, FinishReason, ResponseFormat, Tool
from rusty_genius.server import create_app, open_server

from .conftest import run_agent, strict_schema_format

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from rusty_genius import Genius
    from rusty_genius_testhub import LoopbackHub

MODEL = "pinky-agent"
T = TypeVar("T")
WEATHER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 2, "maxLength": 40},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
    },
    "required": ["city", "unit", "days"],
    "additionalProperties": False,
}
TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather forecast for a city",
            "parameters": WEATHER_SCHEMA,
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "The local time in a timezone",
            "parameters": {
                "type": "object",
                "properties": {"timezone": {"type": "string"}},
                "required": ["timezone"],
            },
        },
    },
]
PERSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 20},
        "age": {"type": "integer", "minimum": 18, "maximum": 99},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 3},
        "role": {"enum": ["admin", "user"]},
        "address": {
            "type": "object",
            "properties": {"zip": {"type": "string", "minLength": 5}},
            "required": ["zip"],
        },
    },
    "required": ["name", "age", "tags", "role", "address"],
}
QUESTION = "What is the weather in Lisbon this week?"
OLLAMA_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather forecast for a city",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "the city"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["city", "unit"],
            },
        },
    }
]
"""What the ``ollama`` client sends on: its models keep ``type``, ``description`` and ``enum``."""


class City(BaseModel):
    name: str = Field(min_length=1, max_length=30)
    population: int = Field(ge=1000)
    country: Literal["PT", "ES", "FR"]
    districts: list[str] = Field(min_length=2)


@asynccontextmanager
async def _served(make_genius: Callable[..., Genius]) -> AsyncIterator[str]:
    async with make_genius() as genius, open_server(create_app(genius), port=0) as address:
        yield address.url


@pytest.fixture
def served(make_genius: Callable[..., Genius]) -> Callable[[], Any]:
    return lambda: _served(make_genius)


async def in_thread(work: Callable[[], Any]) -> Any:
    return await anyio.to_thread.run_sync(work)


def _openai(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)


async def _with_openai(served: Callable[[], Any], work: Callable[[openai.OpenAI], T]) -> T:
    """What ``work`` returns, run in a thread with an OpenAI client of a server started for it."""
    async with served() as url:

        def call() -> T:
            with _openai(url) as client:
                return work(client)

        result: T = await anyio.to_thread.run_sync(call)
    return result


# -- OpenAI: tools ------------------------------------------------------------------------------


async def test_openai_tool_call_auto_is_a_call_valid_for_the_schema(
    served: Callable[[], Any],
) -> None:
    def work(client: openai.OpenAI) -> Any:
        return client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": QUESTION}],
            tools=TOOLS,  # type: ignore[arg-type]
            tool_choice="auto",
        )

    reply = await _with_openai(served, work)
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls
    assert call.type == "function"
    assert call.id.startswith("call_")
    assert call.function.name == "get_weather"  # the first tool
    arguments = json.loads(call.function.arguments)
    jsonschema.validate(arguments, WEATHER_SCHEMA)
    assert arguments["unit"] == "celsius"
    assert arguments["days"] == 1
    assert QUESTION.startswith(arguments["city"])


async def test_openai_named_tool_choice_calls_that_tool(served: Callable[[], Any]) -> None:
    def work(client: openai.OpenAI) -> Any:
        return client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "What time is it in Tokyo?"}],
            tools=TOOLS,  # type: ignore[arg-type]
            tool_choice={"type": "function", "function": {"name": "get_time"}},
        )

    reply = await _with_openai(served, work)
    (call,) = reply.choices[0].message.tool_calls
    assert call.function.name == "get_time"
    assert json.loads(call.function.arguments) == {"timezone": "What time is it in Tokyo?"}


async def test_openai_streams_tool_call_deltas_as_openai_does(served: Callable[[], Any]) -> None:
    def work(client: openai.OpenAI) -> list[Any]:
        return list(
            client.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": QUESTION}],
                tools=TOOLS,  # type: ignore[arg-type]
                tool_choice="required",
                parallel_tool_calls=False,
                stream=True,
            )
        )

    chunks = await _with_openai(served, work)
    deltas = [d for c in chunks if c.choices for d in (c.choices[0].delta.tool_calls or [])]
    first, *rest = deltas
    assert (first.index, first.type, first.function.name) == (0, "function", "get_weather")
    assert first.id is not None
    assert first.id.startswith("call_")
    assert first.function.arguments == ""
    assert len(rest) > 1  # the arguments arrive in fragments
    assert all(d.id is None and d.function.name is None for d in rest)
    arguments = json.loads("".join(d.function.arguments for d in rest))
    jsonschema.validate(arguments, WEATHER_SCHEMA)
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


async def test_openai_tool_result_goes_back_to_the_model(served: Callable[[], Any]) -> None:
    def work(client: openai.OpenAI) -> Any:
        first = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": QUESTION}],
            tools=TOOLS,  # type: ignore[arg-type]
        )
        call = first.choices[0].message.tool_calls[0]
        return client.chat.completions.create(
            model=MODEL,
            messages=[
                {"role": "user", "content": QUESTION},
                first.choices[0].message.model_dump(exclude_none=True),  # type: ignore[list-item]
                {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 24 C"},
            ],
            tools=TOOLS,  # type: ignore[arg-type]
        )

    reply = await _with_openai(served, work)
    assert reply.choices[0].finish_reason == "stop"
    assert reply.choices[0].message.content == "Sunny, 24 C"
    assert not reply.choices[0].message.tool_calls


async def test_openai_refuses_a_choice_naming_an_unknown_tool(served: Callable[[], Any]) -> None:
    async with served() as url, httpx.AsyncClient(base_url=url) as http:
        reply = await http.post(
            "/v1/chat/completions",
            json={
                "model": MODEL,
                "messages": [{"role": "user", "content": "x"}],
                "tools": TOOLS,
                "tool_choice": {"type": "function", "function": {"name": "launch"}},
            },
        )
        bad_schema = await http.post(
            "/v1/chat/completions",
            json={
                "model": MODEL,
                "messages": [{"role": "user", "content": "x"}],
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "x", "schema": {"type": "object", "minProperties": -1}},
                },
            },
        )
    assert reply.status_code == 400
    assert reply.json()["error"]["param"] == "tool_choice.function.name"
    assert "'launch'" in reply.json()["error"]["message"]
    assert bad_schema.status_code == 400
    assert bad_schema.json()["error"]["param"] == "response_format.json_schema.schema"


# -- OpenAI: structured output --------------------------------------------------------------------


async def test_openai_json_object_and_json_schema(served: Callable[[], Any]) -> None:
    def work(client: openai.OpenAI) -> tuple[Any, Any]:
        loose = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Describe a person as JSON"}],
            response_format={"type": "json_object"},
        )
        strict = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Describe a person"}],
            response_format=strict_schema_format("person", PERSON_SCHEMA),
        )
        return loose, strict

    loose, strict = await _with_openai(served, work)
    assert json.loads(loose.choices[0].message.content) == {"echo": "Describe a person as JSON"}
    person = json.loads(strict.choices[0].message.content)
    jsonschema.validate(person, PERSON_SCHEMA)
    assert len(person["tags"]) == 2
    assert person["age"] == 18
    assert strict.choices[0].finish_reason == "stop"


async def test_openai_parse_with_a_pydantic_model(served: Callable[[], Any]) -> None:
    def work(client: openai.OpenAI) -> Any:
        return client.chat.completions.parse(
            model=MODEL,
            messages=[{"role": "user", "content": "Tell me about Lisbon"}],
            response_format=City,
        )

    reply = await _with_openai(served, work)
    city = reply.choices[0].message.parsed
    assert isinstance(city, City)
    assert city.population == 1000
    assert city.country == "PT"
    assert len(city.districts) == 2


# -- OpenAI: embeddings ---------------------------------------------------------------------------


async def test_openai_embeddings_float_and_base64(served: Callable[[], Any]) -> None:
    texts = ["the cat sat on the mat", "on the mat the cat sat", "quarterly tax filing"]
    async with served() as url:

        def work() -> tuple[Any, Any, Any]:
            with _openai(url) as client:
                floats = client.embeddings.create(model=MODEL, input=texts, encoding_format="float")
                default = client.embeddings.create(model=MODEL, input=texts)  # base64 on the wire
                one = client.embeddings.create(model=MODEL, input="hello", dimensions=8)
                return floats, default, one

        floats, default, one = await in_thread(work)
        async with httpx.AsyncClient(base_url=url) as http:
            raw = await http.post(
                "/v1/embeddings",
                json={"model": MODEL, "input": "hello", "encoding_format": "base64"},
            )
    vectors = [d.embedding for d in floats.data]
    assert [d.index for d in floats.data] == [0, 1, 2]
    assert all(math.isclose(math.fsum(x * x for x in v), 1.0, rel_tol=1e-9) for v in vectors)
    assert vectors[0] == pytest.approx(vectors[1])  # the same words
    assert _cosine(vectors[0], vectors[2]) < 0.9
    for got, wanted in zip(default.data, vectors, strict=True):
        assert got.embedding == pytest.approx(wanted, abs=1e-6)  # float32 on the wire
    assert floats.usage.prompt_tokens == floats.usage.total_tokens == 6 + 6 + 3  # Pinky's words
    assert len(one.data[0].embedding) == 8
    packed = base64.b64decode(raw.json()["data"][0]["embedding"])
    decoded = struct.unpack(f"<{len(packed) // 4}f", packed)
    assert math.isclose(math.fsum(x * x for x in decoded), 1.0, rel_tol=1e-6)


def _cosine(a: list[float], b: list[float]) -> float:
    return math.fsum(x * y for x, y in zip(a, b, strict=True))


async def test_a_prompt_longer_than_the_context_is_context_length_exceeded(
    served: Callable[[], Any],
) -> None:
    long = "word " * 200  # over a 64-token context
    huge = "word " * 5000  # over Pinky's default context of 4096 tokens
    small = {"num_ctx": 64}
    async with served() as url, httpx.AsyncClient(base_url=url) as http:
        # OpenAI's requests name no context size: they get the model's default.
        chat = await http.post(
            "/v1/chat/completions",
            json={"model": MODEL, "messages": [{"role": "user", "content": huge}]},
        )
        embedded = await http.post("/v1/embeddings", json={"model": MODEL, "input": huge})
        cut = await http.post("/api/embed", json={"model": MODEL, "input": long, "options": small})
        refused = await http.post(
            "/api/embed",
            json={"model": MODEL, "input": long, "truncate": False, "options": small},
        )
        history = [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": long},
            {"role": "assistant", "content": long},
            {"role": "user", "content": "and now?"},
        ]
        chat_cut = await http.post(
            "/api/chat",
            json={"model": MODEL, "messages": history, "stream": False, "options": small},
        )
        chat_refused = await http.post(
            "/api/chat",
            json={
                "model": MODEL,
                "messages": history,
                "stream": False,
                "truncate": False,
                "options": small,
            },
        )
        generated = [
            line
            async for line in (
                await http.post(
                    "/api/generate", json={"model": MODEL, "prompt": long, "options": small}
                )
            ).aiter_lines()
        ]
    assert chat.status_code == 400
    assert chat.json()["error"]["code"] == "context_length_exceeded"
    assert embedded.status_code == 400
    assert embedded.json()["error"]["code"] == "context_length_exceeded"
    assert cut.status_code == 200
    assert cut.json()["prompt_eval_count"] == 64  # Ollama truncates to the context
    assert refused.status_code == 400
    assert "context" in refused.json()["error"]
    # Ollama drops the oldest messages (the system message stays) until the chat fits.
    assert chat_cut.status_code == 200
    assert chat_cut.json()["message"]["content"] == "and now?"  # Pinky echoes the last
    assert chat_cut.json()["prompt_eval_count"] == 4  # "Be", " brief.", "\\nand", " now?"
    assert chat_refused.status_code == 400
    assert "context" in chat_refused.json()["error"]
    last = json.loads(generated[-1])
    assert last["done"]
    assert 32 <= last["prompt_eval_count"] < 64  # the prompt's end, halved until it fit


# -- Ollama ---------------------------------------------------------------------------------------


async def test_ollama_chat_with_tools_gives_calls_with_object_arguments(
    served: Callable[[], Any],
) -> None:
    async with served() as url:

        def work() -> tuple[Any, list[Any]]:
            with ollama.Client(host=url) as client:
                whole = client.chat(
                    model=MODEL,
                    messages=[{"role": "user", "content": QUESTION}],
                    tools=OLLAMA_TOOLS,
                )
                parts = list(
                    client.chat(
                        model=MODEL,
                        messages=[{"role": "user", "content": QUESTION}],
                        tools=OLLAMA_TOOLS,
                        stream=True,
                    )
                )
                return whole, parts

        whole, parts = await in_thread(work)
    (call,) = whole.message.tool_calls
    assert call.function.name == "get_weather"
    arguments = dict(call.function.arguments)
    jsonschema.validate(arguments, OLLAMA_TOOLS[0]["function"]["parameters"])
    assert arguments == {"city": QUESTION, "unit": "celsius"}
    streamed = [c for p in parts for c in (p.message.tool_calls or [])]
    assert [(c.function.name, dict(c.function.arguments)) for c in streamed] == [
        (call.function.name, dict(call.function.arguments))
    ]
    assert parts[-1].done
    assert parts[-1].done_reason == "stop"


async def test_ollama_format_json_and_schema(served: Callable[[], Any]) -> None:
    async with served() as url:

        def work() -> tuple[Any, Any, Any]:
            with ollama.Client(host=url) as client:
                schema = client.chat(
                    model=MODEL,
                    messages=[{"role": "user", "content": "Describe a person"}],
                    format=PERSON_SCHEMA,
                )
                generated = client.generate(
                    model=MODEL, prompt="A city", format=City.model_json_schema()
                )
                loose = client.generate(model=MODEL, prompt="anything", format="json")
                return schema, generated, loose

        schema, generated, loose = await in_thread(work)
    jsonschema.validate(json.loads(schema.message.content), PERSON_SCHEMA)
    city = City.model_validate_json(generated.response)
    assert city.country == "PT"
    assert json.loads(loose.response) == {"echo": "anything"}


async def test_ollama_embed_and_show(served: Callable[[], Any]) -> None:
    async with served() as url:

        def work() -> tuple[Any, Any, Any]:
            with ollama.Client(host=url) as client:
                embedded = client.embed(model=MODEL, input=["good morning", "morning good"])
                legacy = client.embeddings(model=MODEL, prompt="good morning")
                shown = client.show(MODEL)
                return embedded, legacy, shown

        embedded, legacy, shown = await in_thread(work)
    first, second = embedded.embeddings
    assert len(first) == 64
    assert math.isclose(math.fsum(x * x for x in first), 1.0, rel_tol=1e-9)
    assert first == pytest.approx(second)
    assert embedded.prompt_eval_count == 4
    assert list(legacy.embedding) == pytest.approx(first)
    assert set(shown.capabilities or ()) == {"completion", "tools", "embedding", "thinking"}
    assert shown.details.format == "gguf"


# -- pydantic-ai ----------------------------------------------------------------------------------


async def test_pydantic_ai_agent_returns_a_validated_model(served: Callable[[], Any]) -> None:
    from pydantic_ai import Agent

    async with served() as url:

        def work() -> Any:
            def build(model: Any) -> Agent[None, City]:
                return Agent(model, output_type=City)

            return run_agent(url, MODEL, build, "Tell me about a city in Portugal").output

        city = await in_thread(work)
    assert isinstance(city, City)
    assert city.country == "PT"
    assert city.population >= 1000


async def test_pydantic_ai_agent_calls_a_python_tool_and_uses_its_result(
    served: Callable[[], Any],
) -> None:
    from pydantic_ai import Agent

    calls: list[str] = []
    async with served() as url:

        def work() -> Any:
            def build(model: Any) -> Agent[None, str]:
                agent = Agent(model, system_prompt="Use the tools.")

                @agent.tool_plain
                def population_of(city: str) -> str:
                    """The population of a city."""
                    calls.append(city)
                    return f"{city} has 545923 inhabitants"

                return agent

            return run_agent(url, MODEL, build, "How many people live in Lisbon?").output

        output = await in_thread(work)
    assert calls == ["How many people live in Lisbon?"]
    assert output == "How many people live in Lisbon? has 545923 inhabitants"


# -- the remote engine passes it all through ----------------------------------------------------


async def test_remote_engine_passes_tools_formats_and_embeddings_through(
    make_genius: Callable[..., Genius],
) -> None:
    from rusty_genius import InferenceConfig, LoadOptions
    from rusty_genius.engines import PinkyEngine, RemoteEngine
    from rusty_genius.protocol import ToolCallCollector, ToolCallDelta

    tools = [Tool(name="get_weather", parameters=WEATHER_SCHEMA)]
    messages = [ChatMessage(role="user", content=QUESTION)]
    local = PinkyEngine()
    await local.load(MODEL, None, LoadOptions())
    async with (
        make_genius() as genius,
        open_server(create_app(genius), port=0) as address,
    ):
        remote = RemoteEngine(address.url)
        await remote.load(MODEL, None, LoadOptions())
        try:
            calls = []
            for engine in (local, remote):
                collector = ToolCallCollector()
                async for event in engine.infer(
                    messages=messages, config=InferenceConfig(), tools=tools
                ):
                    if isinstance(event, ToolCallDelta):
                        collector.add(event)
                calls.append(collector.calls())
            texts = []
            for engine in (local, remote):
                form = ResponseFormat.json(PERSON_SCHEMA)
                events = [
                    e
                    async for e in engine.infer(
                        prompt="x", config=InferenceConfig(), response_format=form
                    )
                ]
                texts.append("".join(e.text for e in events if isinstance(e, Content)))
                assert events[-1].usage.finish_reason is FinishReason.STOP
            embedded = [await e.embed(["one two", "three"], dimensions=16) for e in (local, remote)]
        finally:
            await remote.unload()
    (mine,), (theirs,) = calls
    assert (theirs.id, theirs.name, theirs.parsed_arguments()) == (
        mine.id,
        mine.name,
        mine.parsed_arguments(),
    )
    assert json.loads(texts[1]) == json.loads(texts[0])
    for got, wanted in zip(embedded[1].vectors, embedded[0].vectors, strict=True):
        assert got == pytest.approx(wanted)
    assert embedded[1].token_counts == embedded[0].token_counts == (2, 1)


async def test_a_repo_the_hub_does_not_have_is_404_everywhere(
    make_genius: Callable[..., Genius], hub: LoopbackHub
) -> None:
    from rusty_genius_testhub.engines import NeedsWeights

    missing = "nobody/nothing-GGUF:Q4_0"
    async with (
        make_genius(engine_factory=NeedsWeights, endpoint=hub.url) as genius,
        open_server(create_app(genius), port=0) as address,
        httpx.AsyncClient(base_url=address.url, timeout=60) as http,
    ):
        replies = [
            await http.post(
                "/v1/chat/completions",
                json={"model": missing, "messages": [{"role": "user", "content": "x"}]},
            ),
            await http.post("/v1/embeddings", json={"model": missing, "input": "x"}),
            await http.post("/api/chat", json={"model": missing, "messages": [USER_X]}),
            await http.post("/api/embed", json={"model": missing, "input": "x"}),
            await http.post("/api/pull", json={"model": missing, "stream": False}),
            await http.post("/api/show", json={"model": missing}),
        ]
    assert [r.status_code for r in replies] == [404] * len(replies), [r.text for r in replies]
    assert replies[0].json()["error"]["code"] == "model_not_found"
    assert all("nobody/nothing-GGUF" in r.text for r in replies[:5])


USER_X = {"role": "user", "content": "x"}
