"""The server's wire shapes: one pydantic declaration gives validation, errors and the schema.

The request models read their bounds from ``rusty_genius_core.limits``, so the
OpenAPI document, the validation and the library agree; every reply the server
sends validates against the response model the document names for it; error
statuses come from the exception's class.
"""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from pydantic import BaseModel, ValidationError

from facecrab import DownloadError, OfflineError
from rusty_genius._serve._errors import Api, error_payload, status_of, validation_message
from rusty_genius._serve._keep_alive import KEEP_ALIVE_PATTERN
from rusty_genius._serve._models_ollama import (
    GenerateRequest,
    GenerateResponse,
    Health,
    OllamaChatRequest,
    OllamaChatResponse,
    OllamaErrorResponse,
    RunningModels,
    Tags,
    Version,
)
from rusty_genius._serve._models_openai import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Completion,
    CompletionChunk,
    ModelCard,
    ModelList,
    OpenAIErrorResponse,
)
from rusty_genius._serve._replies import error_response
from rusty_genius._serve._routes import openapi_document
from rusty_genius.server import create_app, open_server
from rusty_genius_core import BusyError, GeniusError, ProtocolError, limits

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from rusty_genius import Genius

MODEL = "pinky-test"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "one two"}]}


def _first_error(model: type[BaseModel], data: object) -> tuple[str, str | None]:
    with pytest.raises(ValidationError) as raised:
        model.model_validate(data)
    errors = [{**e, "loc": ("body", *e["loc"])} for e in raised.value.errors()]
    return validation_message(errors)


def _schema(name: str) -> dict[str, Any]:
    return openapi_document()["components"]["schemas"][name]  # type: ignore[no-any-return]


def _bound(prop: dict[str, Any]) -> dict[str, Any]:
    """The non-null member of an optional property."""
    return next(p for p in prop.get("anyOf", [prop]) if p.get("type") != "null")


# -- bounds from one place ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "field", "limit"),
    [
        ("ChatCompletionRequest", "temperature", limits.TEMPERATURE),
        ("ChatCompletionRequest", "top_p", limits.TOP_P),
        ("ChatCompletionRequest", "top_k", limits.TOP_K),
        ("ChatCompletionRequest", "min_p", limits.MIN_P),
        ("ChatCompletionRequest", "repeat_penalty", limits.REPEAT_PENALTY),
        ("ChatCompletionRequest", "max_tokens", limits.MAX_TOKENS),
        ("ChatCompletionRequest", "seed", limits.SEED),
        ("CompletionRequest", "max_completion_tokens", limits.MAX_TOKENS),
        ("Options", "top_k", limits.TOP_K),
        ("Options", "num_ctx", limits.CONTEXT_SIZE),
    ],
)
def test_schema_bounds_are_the_core_limits(schema: str, field: str, limit: limits.Limit) -> None:
    prop = _bound(_schema(schema)["properties"][field])
    assert prop["type"] == ("integer" if limit.integer else "number")
    assert prop["maximum"] == limit.hi
    low = "exclusiveMinimum" if limit.lo_open else "minimum"
    assert prop[low] == limit.lo


def test_top_k_and_num_ctx_reach_the_library_limits_over_http() -> None:
    """The issue's disagreements: top_k 2^20 everywhere, num_ctx up to 2^24 in handler and schema."""
    assert limits.TOP_K.hi == 1 << 20
    assert limits.CONTEXT_SIZE.hi == 1 << 24
    top = {**CHAT, "top_k": 1 << 20}
    assert ChatCompletionRequest.model_validate(top).top_k == 1 << 20
    assert _first_error(ChatCompletionRequest, {**top, "top_k": (1 << 20) + 1})[1] == "top_k"
    big = {"model": MODEL, "options": {"num_ctx": 1 << 24}}
    options = OllamaChatRequest.model_validate(big).options
    assert options is not None
    assert options.num_ctx == 1 << 24
    message, param = _first_error(OllamaChatRequest, {"model": MODEL, "options": {"num_ctx": 15}})
    assert param == "options.num_ctx"
    assert "'options.num_ctx' must be an integer in [16, 16777216]" in message


@pytest.mark.parametrize("given", ["-1", "-1m", "5m", "1h30m", "500ms", "0", "42", "1.5s"])
def test_keep_alive_strings_the_schema_allows_are_the_ones_the_handler_reads(given: str) -> None:
    assert re.search(KEEP_ALIVE_PATTERN, given)
    assert (
        GenerateRequest.model_validate({"model": MODEL, "keep_alive": given}).keep_alive is not None
    )
    [string] = [
        p
        for p in _bound(_schema("GenerateRequest")["properties"]["keep_alive"])["anyOf"]
        if p["type"] == "string"
    ]
    assert string["pattern"] == KEEP_ALIVE_PATTERN


@pytest.mark.parametrize("given", ["", "5x", "1h 30m", "soon", "1e400s", "--1"])
def test_keep_alive_strings_both_refuse(given: str) -> None:
    assert not re.search(KEEP_ALIVE_PATTERN, given.strip())
    message, param = _first_error(GenerateRequest, {"model": MODEL, "keep_alive": given})
    assert (param, message.split(" must")[0]) == ("keep_alive", "'keep_alive'")


def test_the_document_has_400s_in_the_apis_shapes_and_no_422() -> None:
    doc = openapi_document()
    assert "422" not in json.dumps(doc["paths"])
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    chat = doc["paths"]["/v1/chat/completions"]["post"]
    error = chat["responses"]["400"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/OpenAIErrorResponse"}
    streamed = chat["responses"]["200"]["content"]["text/event-stream"]["schema"]
    assert streamed == {"$ref": "#/components/schemas/ChatCompletionChunk"}
    assert "ChatCompletionChunk" in doc["components"]["schemas"]
    ollama = doc["paths"]["/api/generate"]["post"]["responses"]["400"]
    assert ollama["content"]["application/json"]["schema"]["$ref"].endswith("OllamaErrorResponse")
    assert doc["paths"]["/api/chat"]["post"]["requestBody"]["required"] is True


@pytest.mark.parametrize(
    ("body", "param", "message"),
    [
        ({**CHAT, "stream": 1}, "stream", "'stream' must be true or false, got a number (1)"),
        ({**CHAT, "temperature": "1"}, "temperature", "must be a number in [0, 5]"),
        ({**CHAT, "top_k": True}, "top_k", "must be an integer in [0, 1048576]"),
        ({**CHAT, "messages": "hi"}, "messages", "must be an array of messages"),
        ({**CHAT, "stream_options": "x"}, "stream_options", "must be an object"),
        ({**CHAT, "model": "  "}, "model", "'model' must be a non-empty string"),
        ({**CHAT, "model": None}, "model", "'model' is required"),
        ({**CHAT, "logprobs": True}, "logprobs", "'logprobs' is not supported"),
        (  # json_object and json_schema are supported since structured output arrived
            {**CHAT, "response_format": {"type": "xml"}},
            "response_format.type",
            "one of 'text', 'json_object', 'json_schema'",
        ),
        ({**CHAT, "frequency_penalty": 3}, "frequency_penalty", "in [-2, 2]"),
        ({**CHAT, "n": True}, "n", "'n' must be 1"),  # true is not 1
        ({**CHAT, "logprobs": 1}, "logprobs", "not supported"),
        (
            {"model": MODEL, "messages": [{"role": "user"}, {"content": "x"}]},
            "messages[1].role",
            "'messages[1].role' is required",
        ),
        ([1], None, "the request body must be a JSON object, got an array"),
    ],
)
def test_openai_errors_name_the_field(body: object, param: str | None, message: str) -> None:
    got_message, got_param = _first_error(ChatCompletionRequest, body)
    assert got_param == param
    assert message in got_message


def test_integral_floats_are_integers_and_extras_are_ignored() -> None:
    parsed = ChatCompletionRequest.model_validate(
        {**CHAT, "max_tokens": 12.0, "user": "someone", "metadata": {"a": 1}}
    )
    assert parsed.max_tokens == 12
    assert isinstance(parsed.max_tokens, int)
    assert _first_error(ChatCompletionRequest, {**CHAT, "max_tokens": 1.5})[1] == "max_tokens"
    ollama = OllamaChatRequest.model_validate({"name": f" {MODEL} ", "think": "high"})
    assert (ollama.model, ollama.show_thinking) == (MODEL, True)
    assert _first_error(OllamaChatRequest, {"model": MODEL, "think": 1})[1] == "think"


# -- error statuses -------------------------------------------------------------------------


class Teapot(GeniusError):
    http_status = 418


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (BusyError("full"), 503),
        (OfflineError("offline"), 404),
        (DownloadError("hub"), 502),
        (ProtocolError("bad"), 400),
        (Teapot("short and stout"), 418),
        (RuntimeError("bug"), 500),
    ],
)
def test_the_status_is_the_error_classs(exc: Exception, status: int) -> None:
    assert status_of(exc) == status
    response = error_response(Api.OPENAI, exc, retry_after=7)
    assert response.status_code == status
    assert (response.headers.get("retry-after") == "7") is (status == 503)
    body = json.loads(bytes(response.body))
    OpenAIErrorResponse.model_validate(body)
    if status == 500:
        assert body["error"]["message"] == "internal server error"  # no internals leak
    OllamaErrorResponse.model_validate(error_payload(Api.OLLAMA, status, "x"))


# -- replies against their declared models --------------------------------------------------


@pytest.fixture
def served(make_genius: Callable[..., Genius]) -> Callable[..., Any]:
    @asynccontextmanager
    async def start(**app: Any) -> AsyncIterator[httpx.AsyncClient]:
        async with (
            make_genius() as genius,
            open_server(create_app(genius, **app), port=0) as address,
            httpx.AsyncClient(base_url=address.url, timeout=60) as http,
        ):
            yield http

    return start


def _sse(text: str) -> list[dict[str, Any]]:
    events = [e.removeprefix("data: ") for e in text.split("\n\n") if e]
    assert events[-1] == "[DONE]"
    return [json.loads(e) for e in events[:-1]]


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line]


async def test_every_reply_validates_against_its_declared_model(
    served: Callable[..., Any],
) -> None:
    usage = {"stream_options": {"include_usage": True}}
    async with served() as http:
        whole_chat = await http.post("/v1/chat/completions", json=CHAT)
        chunks = await http.post("/v1/chat/completions", json={**CHAT, "stream": True, **usage})
        text = {"model": MODEL, "prompt": "one two"}
        whole_text = await http.post("/v1/completions", json=text)
        text_chunks = await http.post("/v1/completions", json={**text, "stream": True, **usage})
        models = await http.get("/v1/models")
        card = await http.get(f"/v1/models/{MODEL}")
        chat_lines = await http.post("/api/chat", json=CHAT)
        chat_whole = await http.post("/api/chat", json={**CHAT, "stream": False})
        generated = await http.post("/api/generate", json={**text, "stream": False})
        generated_lines = await http.post("/api/generate", json=text)
        loaded = await http.post("/api/generate", json={"model": MODEL})
        ps = await http.get("/api/ps")
        tags = await http.get("/api/tags")
        version = await http.get("/api/version")
        health = await http.get("/health")
        pulled = await http.post("/api/pull", json={"model": "nowhere/none"})
    ChatCompletion.model_validate(whole_chat.json())
    assert len(_sse(chunks.text)) > 3
    for chunk in _sse(chunks.text):
        ChatCompletionChunk.model_validate(chunk)
    Completion.model_validate(whole_text.json())
    for chunk in _sse(text_chunks.text):
        CompletionChunk.model_validate(chunk)
    ModelList.model_validate(models.json())
    ModelCard.model_validate(card.json())
    assert len(_lines(chat_lines.text)) > 3
    for line in _lines(chat_lines.text):
        OllamaChatResponse.model_validate(line)
    OllamaChatResponse.model_validate(chat_whole.json())
    GenerateResponse.model_validate(generated.json())
    for line in _lines(generated_lines.text):
        GenerateResponse.model_validate(line)
    assert GenerateResponse.model_validate(loaded.json()).done_reason == "load"
    assert RunningModels.model_validate(ps.json()).models
    Tags.model_validate(tags.json())
    Version.model_validate(version.json())
    Health.model_validate(health.json())
    assert pulled.status_code in (404, 502)
    OllamaErrorResponse.model_validate(pulled.json())


# -- the wire, beyond the models ------------------------------------------------------------


async def test_json_bodies_need_no_json_content_type(served: Callable[..., Any]) -> None:
    """``curl -d`` sends ``application/x-www-form-urlencoded``; Ollama reads JSON anyway."""
    body = json.dumps({**CHAT, "stream": False}).encode()
    async with served() as http:
        form = await http.post(
            "/api/chat",
            content=body,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        bare = await http.post("/v1/chat/completions", content=body, headers={"content-type": ""})
        empty = await http.post("/v1/chat/completions", content=b"")
    assert form.status_code == 200
    assert form.json()["message"]["content"] == "one two"
    assert bare.status_code == 200
    assert bare.json()["choices"][0]["message"]["content"] == "one two"
    assert empty.status_code == 400
    assert empty.json()["error"]["message"] == "the request body is empty; send a JSON object"


async def test_docs_and_schema_are_served_without_the_key(served: Callable[..., Any]) -> None:
    async with served(api_key="s3cret") as http:
        docs = await http.get("/docs")
        schema = await http.get("/openapi.json")
        guarded = await http.get("/api/version")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    assert schema.json() == openapi_document()
    assert guarded.status_code == 401


def test_importing_the_library_or_the_cli_loads_no_server_stack() -> None:
    code = (
        "import sys, rusty_genius, rusty_genius._cli\n"
        "heavy = [m for m in ('fastapi', 'pydantic', 'starlette') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "rusty_genius.server.create_app\n"
        "assert {'fastapi', 'pydantic'} <= set(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_no_route_runs_its_endpoint_or_dependencies_in_a_worker_thread() -> None:
    """FastAPI runs a plain ``def`` endpoint or dependency in its thread pool: a thread hop
    before every first token. Every one here is a coroutine function."""
    from fastapi.routing import APIRoute

    from rusty_genius._serve._routes import router

    routes = [r for r in router.routes if isinstance(r, APIRoute)]
    assert len(routes) >= 12
    for route in routes:
        calls = [route.dependant.call, *(d.call for d in route.dependant.dependencies)]
        assert all(inspect.iscoroutinefunction(call) for call in calls), route.path
