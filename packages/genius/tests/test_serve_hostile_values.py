"""Valid JSON that no field can take: a 400 naming the field, never a 500 or a broken 200.

The cases come from the request models themselves: every field of every request model
(nested ones too: messages, their text parts, ``options``, ``stream_options``) is sent,
in an otherwise valid body, an integer too large for a float (``10**400``, and one past
Python's 4300-digit conversion limit) and a string holding a lone surrogate
(``"\\ud800"``), over real HTTP on loopback, to both APIs.
"""

from __future__ import annotations

import json
import types
import typing
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from pydantic import BaseModel

from rusty_genius._serve._models_ollama import (
    DeleteRequest,
    GenerateRequest,
    OllamaChatRequest,
    OllamaEmbeddingsRequest,
    OllamaEmbedRequest,
    PullRequest,
    ShowRequest,
)
from rusty_genius._serve._models_openai import ChatCompletionRequest, CompletionRequest
from rusty_genius._serve._models_tools import EmbeddingRequest
from rusty_genius.server import create_app, open_server

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

    from rusty_genius import Genius

MODEL = "pinky-test"
USER = {"role": "user", "content": "x"}

Path = tuple[str | int, ...]

ENDPOINTS: list[tuple[str, str, type[BaseModel], dict[str, Any]]] = [
    ("POST", "/v1/chat/completions", ChatCompletionRequest, {"model": MODEL, "messages": [USER]}),
    ("POST", "/v1/completions", CompletionRequest, {"model": MODEL, "prompt": "x"}),
    ("POST", "/api/chat", OllamaChatRequest, {"model": MODEL, "messages": [USER]}),
    ("POST", "/api/generate", GenerateRequest, {"model": MODEL, "prompt": "x"}),
    ("POST", "/api/pull", PullRequest, {"model": MODEL}),
    ("DELETE", "/api/delete", DeleteRequest, {"model": MODEL}),
    ("POST", "/v1/embeddings", EmbeddingRequest, {"model": MODEL, "input": "x"}),
    ("POST", "/api/embed", OllamaEmbedRequest, {"model": MODEL, "input": "x"}),
    ("POST", "/api/embeddings", OllamaEmbeddingsRequest, {"model": MODEL, "prompt": "x"}),
    ("POST", "/api/show", ShowRequest, {"model": MODEL}),
]

HUGE = 10**400
"""An integer JSON allows and no float holds."""
HUGER = "1" + "0" * 5000
"""An integer past Python's 4300-digit limit on converting between int and str."""
SURROGATE = "a\ud800b"
"""A lone surrogate: valid JSON (``"a\\ud800b"``), not valid Unicode."""


def _nested(annotation: object) -> Iterator[tuple[type[BaseModel], bool]]:
    """The request models inside a field's annotation, and whether each is a list's item."""
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation, False
    elif origin is list:
        for inner, _ in _nested(typing.get_args(annotation)[0]):
            yield inner, True
    elif origin is typing.Annotated:
        yield from _nested(typing.get_args(annotation)[0])
    elif origin is typing.Union or origin is types.UnionType:
        for arg in typing.get_args(annotation):
            yield from _nested(arg)


# A valid instance of each nested model, to hold the bad value next to valid siblings.
SHELLS: dict[str, dict[str, Any]] = {
    "ChatMessageIn": USER,
    "OllamaMessage": USER,
    "TextPart": {"type": "text", "text": "x"},
    "ToolDef": {"type": "function", "function": {"name": "f"}},
    "FunctionDef": {"name": "f"},
    "NamedToolChoice": {"type": "function", "function": {"name": "f"}},
    "NamedFunction": {"name": "f"},
    "ToolCallIn": {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}},
    "FunctionCall": {"name": "f", "arguments": "{}"},
    "OllamaToolCall": {"function": {"name": "f", "arguments": {}}},
    "OllamaFunctionCall": {"name": "f", "arguments": {}},
    "ResponseFormatIn": {"type": "json_object"},
    "JsonSchemaFormat": {"name": "x", "schema": {"type": "object"}},
}


def field_paths(model: type[BaseModel], prefix: Path = ()) -> Iterator[tuple[Path, list[Any]]]:
    """Every field's path, with the container each step of the path needs."""
    for name, field in model.model_fields.items():
        path = (*prefix, name)
        yield path, []
        for inner, is_list in _nested(field.annotation):
            shell = dict(SHELLS.get(inner.__name__, {}))
            for sub, containers in field_paths(inner):
                full = (*path, 0, *sub) if is_list else (*path, *sub)
                yield full, [[shell] if is_list else shell, *containers]


def placed(base: dict[str, Any], path: Path, containers: list[Any], value: object) -> bytes:
    """``base`` as JSON with ``value`` at ``path`` (nested containers built from shells)."""
    body = json.loads(json.dumps(base))
    cursor: Any = body
    steps = list(path)
    shells = iter(containers)
    i = 0
    while i < len(steps) - 1:
        step = steps[i]
        shell = next(shells)
        if isinstance(shell, list):  # a list of one shell, then its item
            cursor[step] = json.loads(json.dumps(shell))
            cursor = cursor[step][0]
            i += 2
        else:
            cursor[step] = json.loads(json.dumps(shell))
            cursor = cursor[step]
            i += 1
    cursor[steps[-1]] = value
    # json.dumps writes the surrogate as the escape "\ud800", as a client would.
    text = json.dumps(body)
    for number in (str(HUGE), HUGER):
        text = text.replace(json.dumps(number), number)
    return text.encode()


def dotted(path: Path) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out


def cases() -> Iterator[tuple[str, str, bytes, str]]:
    for method, url, model, base in ENDPOINTS:
        for path, containers in field_paths(model):
            for value in (str(HUGE), HUGER, SURROGATE):
                yield method, url, placed(base, path, containers, value), dotted(path)


def test_the_cases_cover_every_field_of_both_apis() -> None:
    paths = {(url, path) for _, url, _, path in cases()}
    for expected in [
        ("/v1/chat/completions", "temperature"),
        ("/v1/chat/completions", "top_p"),
        ("/v1/chat/completions", "frequency_penalty"),
        ("/v1/chat/completions", "keep_alive"),
        ("/v1/chat/completions", "messages[0].content"),
        ("/v1/chat/completions", "messages[0].content[0].text"),
        ("/v1/chat/completions", "stream_options.include_usage"),
        ("/v1/completions", "prompt"),
        ("/api/generate", "prompt"),
        ("/api/generate", "options.temperature"),
        ("/api/chat", "messages[0].content"),
        ("/api/chat", "keep_alive"),
        ("/api/pull", "model"),
    ]:
        assert expected in paths
    assert len(paths) > 100
    body = placed({"model": MODEL}, ("options", "top_p"), [{}], str(HUGE))
    assert body == b'{"model": "pinky-test", "options": {"top_p": 1' + b"0" * 400 + b"}}"


@asynccontextmanager
async def served(make_genius: Callable[..., Genius]) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        make_genius() as genius,
        open_server(create_app(genius), port=0) as at,
        httpx.AsyncClient(base_url=at.url, timeout=60) as http,
    ):
        yield http


def named(reply: httpx.Response, path: str) -> bool:
    """Whether the error names the field at ``path`` (or the field that holds it)."""
    error = reply.json()["error"]
    if isinstance(error, dict):  # OpenAI's shape: param is the field's path
        param = error["param"]
        return isinstance(param, str) and bool(param) and path.startswith(param)
    top = path.split(".")[0].split("[")[0]
    return f"'{top}" in error


async def test_huge_numbers_and_lone_surrogates_in_every_field_are_400(
    make_genius: Callable[..., Genius],
) -> None:
    wrong: list[str] = []
    async with served(make_genius) as http:
        for method, url, body, path in cases():
            reply = await http.request(method, url, content=body)
            if reply.status_code != 400 or not named(reply, path):
                wrong.append(f"{method} {url} {path}: {reply.status_code} {reply.text[:200]}")
        # Nothing bad was kept: the listings still answer.
        ps = await http.get("/api/ps")
        models = await http.get("/v1/models")
    assert wrong == [], "\n".join(wrong)
    assert (ps.status_code, models.status_code) == (200, 200)


@pytest.mark.parametrize("url", ["/v1/chat/completions", "/api/generate"])
async def test_a_lone_surrogate_in_a_streamed_prompt_is_400_not_a_cut_stream(
    make_genius: Callable[..., Genius], url: str
) -> None:
    body = (
        {"model": MODEL, "messages": [{"role": "user", "content": SURROGATE}], "stream": True}
        if url.startswith("/v1")
        else {"model": MODEL, "prompt": SURROGATE, "stream": True}
    )
    async with served(make_genius) as http:
        reply = await http.post(url, content=json.dumps(body).encode())
    assert reply.status_code == 400
    assert "surrogate" in reply.text


async def test_a_model_named_with_a_lone_surrogate_is_never_loaded(
    make_genius: Callable[..., Genius],
) -> None:
    async with served(make_genius) as http:
        for url in ("/api/generate", "/api/chat"):
            body = json.dumps({"model": SURROGATE, "keep_alive": -1}).encode()
            reply = await http.post(url, content=body)
            assert reply.status_code == 400
            assert "'model'" in reply.json()["error"]
        ps = await http.get("/api/ps")
        models = await http.get("/v1/models")
    assert ps.status_code == 200
    assert models.status_code == 200
