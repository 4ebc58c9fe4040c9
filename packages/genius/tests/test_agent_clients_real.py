"""The agent clients against ``genius serve`` on llama.cpp with the real SmolLM2.

The same calls as ``test_agent_clients.py`` (Pinky), asserting what any model must
deliver when the engine constrains it: every tool call names an offered tool and its
arguments validate against the tool's schema, every JSON answer that ends with ``stop``
validates against its schema, vectors are unit length and agree between encodings.
Tools, constrained JSON and embeddings on llama.cpp come with the llama engine's grammar,
tool-parser and embedding work; ``/api/show`` and the context-length errors run today.
"""

from __future__ import annotations

import json
import math
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Literal

import anyio
import httpx
import jsonschema
import ollama
import openai
import pytest
from pydantic import BaseModel, Field

from rusty_genius.server import create_app, open_server
from rusty_genius_testhub import TEST_MODELS

from .conftest import run_agent, strict_schema_format

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from rusty_genius import Genius
    from rusty_genius_testhub import LoopbackHub

pytestmark = [pytest.mark.real, pytest.mark.usefixtures("smollm2_repo", "llama_cpp_module")]

SMOLLM2 = TEST_MODELS["smollm2"]
REF = f"{SMOLLM2.repo}:{SMOLLM2.quantization}"
WEATHER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 1, "maxLength": 30},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city", "unit"],
    "additionalProperties": False,
}
TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather in a city",
            "parameters": WEATHER_SCHEMA,
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "Get the local time in a timezone",
            "parameters": {
                "type": "object",
                "properties": {"timezone": {"type": "string", "maxLength": 40}},
                "required": ["timezone"],
            },
        },
    },
]
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
PERSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 20},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "tags": {
            "type": "array",
            "items": {"type": "string", "maxLength": 12},
            "minItems": 1,
            "maxItems": 3,
        },
    },
    "required": ["name", "age", "tags"],
    "additionalProperties": False,
}
WEATHER_QUESTION = "What is the weather in Paris? Use the tool."


class City(BaseModel):
    name: str = Field(max_length=30)
    country: Literal["France", "Spain", "Italy"]
    population: int = Field(ge=0, le=100_000_000)


@asynccontextmanager
async def _served(make_genius: Callable[..., Genius], hub: LoopbackHub) -> AsyncIterator[str]:
    async with (
        make_genius(backend="llama", endpoint=hub.url) as genius,
        open_server(create_app(genius), port=0) as address,
    ):
        yield address.url


@pytest.fixture
def served(make_genius: Callable[..., Genius], hub: LoopbackHub) -> Callable[[], Any]:
    return lambda: _served(make_genius, hub)


def _openai(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=600)


def _check_call(name: str, arguments: dict[str, Any]) -> None:
    assert name in SCHEMAS
    jsonschema.validate(arguments, SCHEMAS[name])


@pytest.mark.parametrize("choice", ["auto", "required", "named"])
@pytest.mark.parametrize("stream", [False, True])
async def test_openai_tool_calls_validate(
    served: Callable[[], Any], choice: str, stream: bool
) -> None:
    tool_choice: Any = (
        {"type": "function", "function": {"name": "get_weather"}} if choice == "named" else choice
    )
    async with served() as url:

        def work() -> list[tuple[str, dict[str, Any]]]:
            with _openai(url) as client:
                common: dict[str, Any] = {
                    "model": REF,
                    "messages": [{"role": "user", "content": WEATHER_QUESTION}],
                    "tools": TOOLS,
                    "tool_choice": tool_choice,
                    "temperature": 0,
                    "max_tokens": 128,
                }
                if not stream:
                    message = client.chat.completions.create(**common).choices[0].message
                    return [
                        (c.function.name, json.loads(c.function.arguments))
                        for c in message.tool_calls or []
                    ]
                calls: dict[int, list[str]] = {}
                names: dict[int, str] = {}
                for chunk in client.chat.completions.create(**common, stream=True):
                    for d in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                        if d.function.name:
                            names[d.index] = d.function.name
                        calls.setdefault(d.index, []).append(d.function.arguments or "")
                return [(names[i], json.loads("".join(calls[i]))) for i in sorted(calls)]

        calls = await anyio.to_thread.run_sync(work)
    if choice != "auto":
        assert calls, "a required call did not come"
    if choice == "named":
        assert {name for name, _ in calls} == {"get_weather"}
    for name, arguments in calls:
        _check_call(name, arguments)


async def test_openai_json_formats_and_parse(served: Callable[[], Any]) -> None:
    async with served() as url:

        def work() -> tuple[Any, Any, Any]:
            with _openai(url) as client:
                loose = client.chat.completions.create(
                    model=REF,
                    messages=[{"role": "user", "content": "Describe Paris as a JSON object."}],
                    response_format={"type": "json_object"},
                    temperature=0,
                    max_tokens=96,
                )
                strict = client.chat.completions.create(
                    model=REF,
                    messages=[{"role": "user", "content": "Invent a person."}],
                    response_format=strict_schema_format("person", PERSON_SCHEMA),
                    temperature=1,
                    max_tokens=128,
                )
                parsed = client.chat.completions.parse(
                    model=REF,
                    messages=[{"role": "user", "content": "Tell me about Paris."}],
                    response_format=City,
                    temperature=0,
                    max_tokens=96,
                )
                return loose, strict, parsed

        loose, strict, parsed = await anyio.to_thread.run_sync(work)
    if loose.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(loose.choices[0].message.content), dict)
    assert strict.choices[0].finish_reason == "stop"
    jsonschema.validate(json.loads(strict.choices[0].message.content), PERSON_SCHEMA)
    assert isinstance(parsed.choices[0].message.parsed, City)


async def test_openai_embeddings_float_and_base64(served: Callable[[], Any]) -> None:
    texts = ["The cat sits on the mat.", "A cat is sitting on a mat.", "Stocks fell sharply."]
    async with served() as url:

        def work() -> tuple[Any, Any]:
            with _openai(url) as client:
                floats = client.embeddings.create(model=REF, input=texts, encoding_format="float")
                encoded = client.embeddings.create(model=REF, input=texts)  # base64 on the wire
                return floats, encoded

        floats, encoded = await anyio.to_thread.run_sync(work)
    vectors = [d.embedding for d in floats.data]
    assert len({len(v) for v in vectors}) == 1
    assert all(math.isclose(math.fsum(x * x for x in v), 1.0, rel_tol=1e-6) for v in vectors)
    for got, wanted in zip(encoded.data, vectors, strict=True):
        assert got.embedding == pytest.approx(wanted, abs=1e-6)
    assert floats.usage.prompt_tokens > len(texts)


async def test_ollama_chat_tools_format_embed(served: Callable[[], Any]) -> None:
    async with served() as url:

        def work() -> tuple[Any, Any, Any]:
            with ollama.Client(host=url, timeout=600) as client:
                called = client.chat(
                    model=REF,
                    messages=[{"role": "user", "content": WEATHER_QUESTION}],
                    tools=TOOLS,
                    options={"temperature": 0, "num_predict": 128},
                )
                formatted = client.chat(
                    model=REF,
                    messages=[{"role": "user", "content": "Invent a person."}],
                    format=PERSON_SCHEMA,
                    options={"temperature": 0, "num_predict": 128},
                )
                embedded = client.embed(model=REF, input=["good morning", "hello there"])
                return called, formatted, embedded

        called, formatted, embedded = await anyio.to_thread.run_sync(work)
    for call in called.message.tool_calls or []:
        _check_call(call.function.name, dict(call.function.arguments))
    if formatted.done_reason == "stop":
        jsonschema.validate(json.loads(formatted.message.content), PERSON_SCHEMA)
    for vector in embedded.embeddings:
        assert math.isclose(math.fsum(x * x for x in vector), 1.0, rel_tol=1e-6)


async def test_ollama_show_reads_the_gguf(served: Callable[[], Any]) -> None:
    async with served() as url:
        async with httpx.AsyncClient(base_url=url, timeout=600) as http:
            pulled = await http.post("/api/pull", json={"model": REF, "stream": False})
            assert pulled.status_code == 200

        def work() -> Any:
            with ollama.Client(host=url) as client:
                return client.show(REF)

        shown = await anyio.to_thread.run_sync(work)
    assert shown.details.family == "llama"
    assert shown.details.quantization_level == SMOLLM2.quantization
    assert shown.modelinfo["general.architecture"] == "llama"
    assert shown.modelinfo["llama.context_length"] >= 2048
    assert "completion" in (shown.capabilities or [])
    assert "embedding" not in (shown.capabilities or [])  # no pooling type: a chat model
    assert "<|im_start|>" in (shown.template or "")


async def test_a_prompt_longer_than_the_context_is_refused_as_the_apis_do(
    served: Callable[[], Any],
) -> None:
    # OpenAI's requests name no context size: the model's default (4096 tokens a sequence)
    # holds, and this prompt is longer (refused before any of it is evaluated).
    long = "word " * 5000
    async with served() as url, httpx.AsyncClient(base_url=url, timeout=600) as http:
        chat = await http.post(
            "/v1/chat/completions",
            json={"model": REF, "messages": [{"role": "user", "content": long}], "max_tokens": 4},
        )
    assert chat.status_code == 400
    assert chat.json()["error"]["code"] == "context_length_exceeded"


async def test_pydantic_ai_structured_output_and_a_tool(served: Callable[[], Any]) -> None:
    from pydantic_ai import Agent
    from pydantic_ai.settings import ModelSettings

    calls: list[str] = []
    async with served() as url:

        def work() -> tuple[Any, Any]:
            settings = ModelSettings(temperature=0, max_tokens=128)

            def tooled(model: Any) -> Agent[None, str]:
                agent = Agent(model, model_settings=settings)

                @agent.tool_plain
                def get_weather(city: str) -> str:
                    """Get the current weather in a city."""
                    calls.append(city)
                    return f"It is 31 degrees and sunny in {city}."

                return agent

            def typed(model: Any) -> Agent[None, City]:
                return Agent(model, output_type=City, model_settings=settings)

            return (
                run_agent(url, REF, typed, "Tell me about Paris.").output,
                run_agent(url, REF, tooled, WEATHER_QUESTION),
            )

        city, run = await anyio.to_thread.run_sync(work)
    assert isinstance(city, City)
    assert calls, "the agent did not call its tool"
    returned = [
        part
        for message in run.all_messages()
        for part in getattr(message, "parts", [])
        if getattr(part, "part_kind", "") == "tool-return"
    ]
    assert returned
    assert "31 degrees" in str(returned[0].content)
    assert isinstance(run.output, str)
