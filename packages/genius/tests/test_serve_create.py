"""/api/create, /api/copy, /api/delete and /api/blobs with the real ``ollama`` client, on Pinky."""

from __future__ import annotations

import hashlib
import tomllib
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import httpx
import ollama
import pytest

from rusty_genius._serve._models_ollama import ShowResponse
from rusty_genius.server import create_app, open_server
from rusty_genius_testhub.lora import tiny_lora

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from rusty_genius import Genius

BASE = "smollm2-135m-instruct"
SYSTEM = "Answer every question with the single word: banana"


@asynccontextmanager
async def _served(make_genius: Callable[..., Genius]) -> AsyncIterator[str]:
    async with make_genius() as genius, open_server(create_app(genius), port=0) as address:
        yield address.url


async def in_thread(work: Callable[[], Any]) -> Any:
    return await anyio.to_thread.run_sync(work)


async def test_create_with_an_adapter_blob_then_chat_show_copy_delete(
    make_genius: Callable[..., Genius], tmp_path: Path
) -> None:
    adapter = tiny_lora(tmp_path / "router-lora.gguf")
    digest = "sha256:" + hashlib.sha256(adapter.read_bytes()).hexdigest()
    async with _served(make_genius) as url:

        def work() -> dict[str, Any]:
            with ollama.Client(host=url) as client:
                assert client.create_blob(adapter) == digest
                lines = list(
                    client.create(
                        model="banana",
                        from_=BASE,
                        adapters={adapter.name: digest},
                        system=SYSTEM,
                        parameters={"temperature": 0, "stop": ["gamma"], "num_predict": 32},
                        messages=[
                            {"role": "user", "content": "Hi"},
                            {"role": "assistant", "content": "banana"},
                        ],
                        license="MIT",
                        stream=True,
                    )
                )
                whole = client.create(model="banana2", from_="banana", system="Other.")
                client.create(
                    model="plain",
                    from_=BASE,
                    system=SYSTEM,
                    parameters={"temperature": 0, "stop": ["gamma"], "num_predict": 32},
                    messages=[
                        {"role": "user", "content": "Hi"},
                        {"role": "assistant", "content": "banana"},
                    ],
                )
                created = client.chat(
                    model="plain", messages=[{"role": "user", "content": "alpha beta gamma delta"}]
                )
                explicit = client.chat(
                    model=BASE,
                    messages=[
                        {"role": "system", "content": SYSTEM},
                        {"role": "user", "content": "Hi"},
                        {"role": "assistant", "content": "banana"},
                        {"role": "user", "content": "alpha beta gamma delta"},
                    ],
                    options={"temperature": 0, "stop": ["gamma"], "num_predict": 32},
                )
                adapted = client.chat(
                    model="banana", messages=[{"role": "user", "content": "alpha beta gamma delta"}]
                )
                shown = client.show("banana")
                copied = client.copy("banana", "banana3")
                copied_shown = client.show("banana3")
                listed = client.list()
                deleted = client.delete("banana3")
                return {
                    "lines": [line.status for line in lines],
                    "whole": whole.status,
                    "created": created,
                    "explicit": explicit,
                    "shown": shown,
                    "adapted": adapted.message.content,
                    "copied": copied.status,
                    "copied_modelfile": copied_shown.modelfile,
                    "deleted": deleted.status,
                    "listed": {m.model: m.details.parent_model for m in listed.models},
                }

        got = await in_thread(work)
        async with httpx.AsyncClient(base_url=url) as http:
            raw_show = (await http.post("/api/show", json={"model": "banana"})).json()
            gone = await http.post("/api/show", json={"model": "banana3"})
    assert got["lines"][0] == f"using base model {BASE}"
    assert got["lines"][-1] == "success"
    assert got["whole"] == "success"
    assert got["created"].message.content == got["explicit"].message.content == "alpha beta "
    assert got["created"].prompt_eval_count == got["explicit"].prompt_eval_count
    assert got["adapted"] == "[adapters: router-lora] alpha beta "  # Pinky names its adapters
    shown = got["shown"]
    assert f"SYSTEM {SYSTEM}\n" in shown.modelfile
    assert shown.license == "MIT"
    assert shown.parameters.splitlines() == [
        "temperature                    0",
        "num_predict                    32",
        'stop                           "gamma"',
    ]
    assert shown.details.parent_model == BASE
    assert (got["copied"], got["deleted"]) == ("success", "success")
    assert got["listed"] == {
        "banana": BASE,
        "banana2": "banana",
        "banana3": BASE,  # a copy of banana: its entry, over the same base
        "plain": BASE,
    }  # the base is not downloaded (Pinky needs no file): only the created models
    assert got["copied_modelfile"] == shown.modelfile
    ShowResponse.model_validate(raw_show)
    assert raw_show["system"] == SYSTEM
    assert raw_show["messages"] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "banana"},
    ]
    assert raw_show["license"] == "MIT"
    blob = raw_show["adapters"][0]
    assert blob["name"] == "router-lora"
    assert blob["path"].endswith(digest.replace(":", "-"))
    assert "ADAPTER " in raw_show["modelfile"]
    assert raw_show["modelfile"].startswith(f"FROM {BASE}\n")
    assert gone.status_code == 200  # banana3 is gone: Pinky answers any name with its own show
    assert "system" not in gone.json()
    manifest = tomllib.loads((tmp_path / "home" / "manifest.toml").read_text("utf-8"))
    assert sorted(manifest["models"]) == ["banana", "banana2", "plain"]
    assert manifest["models"]["banana"]["adapters"][0]["sha256"] == digest.split(":")[1]


async def test_blobs_head_post_and_mismatch(
    make_genius: Callable[..., Genius], tmp_path: Path
) -> None:
    body = b"adapter" * 5000
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    wrong = "sha256:" + hashlib.sha256(b"other").hexdigest()
    async with _served(make_genius) as url, httpx.AsyncClient(base_url=url) as http:
        assert (await http.head(f"/api/blobs/{digest}")).status_code == 404
        assert (await http.post(f"/api/blobs/{digest}", content=body)).status_code == 201
        assert (await http.head(f"/api/blobs/{digest}")).status_code == 200
        bad = await http.post(f"/api/blobs/{wrong}", content=body)
        malformed = await http.post("/api/blobs/sha256:xyz", content=body)
        assert (await http.head(f"/api/blobs/{wrong}")).status_code == 404
    assert bad.status_code == 400
    assert bad.json() == {"error": f"blob digest mismatch: expected {wrong}, got {digest}"}
    assert malformed.status_code == 400
    assert "sha256:" in malformed.json()["error"]
    assert sorted(p.name for p in (tmp_path / "home" / "blobs").iterdir()) == [
        digest.replace(":", "-")
    ]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"model": "x"}, "'from' is required"),
        ({"model": "x", "from": "nowhere"}, "base model 'nowhere' is not an alias"),
        ({"model": BASE, "from": BASE}, "is a built-in model"),
        ({"model": "x", "from": BASE, "template": "{{ .Prompt }}"}, "'template' is a Go template"),
        (
            {"model": "x", "from": BASE, "parameters": {"mirostat": 1}},
            "unknown parameter 'mirostat'",
        ),
        (
            {"model": "x", "from": BASE, "parameters": {"temperature": 9}},
            "parameter 'temperature' must be between 0 and 5",
        ),
        (
            {"model": "x", "from": BASE, "parameters": {"num_ctx": "big"}},
            "parameter 'num_ctx' must be an integer",
        ),
        (
            {"model": "x", "from": BASE, "messages": [{"role": "tool", "content": "x"}]},
            "'messages[0].role' must be one of system, user, assistant",
        ),
        (
            {"model": "x", "from": BASE, "adapters": {"a.gguf": "sha256:" + "0" * 64}},
            "no blob sha256:0000",
        ),
        ({"model": "x", "from": BASE, "adapters": {"a.gguf": "md5:1"}}, "adapters.a.gguf"),
        (
            {"model": "x", "from": BASE, "files": {"m.gguf": "sha256:" + "0" * 64}},
            "'files' is not supported: a model is created over a base",
        ),
        ({"model": "x", "from": BASE, "quantize": "q4_K_M"}, "'quantize' is not supported"),
        (
            {"model": "x", "modelfile": "FROM y"},
            "'modelfile' is not supported: a Modelfile is parsed by the client",
        ),
        ({"model": "Org/Repo", "from": BASE}, "must be a name"),
    ],
)
async def test_bad_creates_are_4xx_naming_what_is_wrong(
    make_genius: Callable[..., Genius], tmp_path: Path, body: dict[str, Any], words: str
) -> None:
    async with _served(make_genius) as url, httpx.AsyncClient(base_url=url) as http:
        answer = await http.post("/api/create", json=body)
    assert 400 <= answer.status_code < 500, answer.text
    assert set(answer.json()) == {"error"}
    assert words in answer.json()["error"]
    assert not (tmp_path / "home" / "manifest.toml").exists()


async def test_copy_and_delete_errors(make_genius: Callable[..., Genius]) -> None:
    async with _served(make_genius) as url, httpx.AsyncClient(base_url=url) as http:
        missing = await http.post("/api/copy", json={"source": "nowhere", "destination": "x"})
        builtin = await http.post("/api/copy", json={"source": "x", "destination": BASE})
        no_field = await http.post("/api/copy", json={"source": BASE})
        stream_false = await http.post(
            "/api/create", json={"model": "y", "from": BASE, "stream": False}
        )
    assert (missing.status_code, builtin.status_code, no_field.status_code) == (404, 400, 400)
    assert "nowhere" in missing.json()["error"]
    assert "destination" in no_field.json()["error"]
    assert stream_false.json() == {"status": "success"}


async def test_a_blob_that_is_not_a_lora_adapter_is_refused(
    make_genius: Callable[..., Genius], tmp_path: Path
) -> None:
    model = tiny_lora(tmp_path / "model.gguf", general_type="model")
    digest = "sha256:" + hashlib.sha256(model.read_bytes()).hexdigest()
    async with _served(make_genius) as url, httpx.AsyncClient(base_url=url) as http:
        assert (
            await http.post(f"/api/blobs/{digest}", content=model.read_bytes())
        ).status_code == 201
        body = {"model": "x", "from": BASE, "adapters": {"model.gguf": digest}}
        answer = await http.post("/api/create", json=body)
    assert answer.status_code == 400
    assert "adapter 'model'" in answer.json()["error"]
    assert "is not a LoRA adapter: its general.type is 'model'" in answer.json()["error"]
    assert not (tmp_path / "home" / "manifest.toml").exists()
