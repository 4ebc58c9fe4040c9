"""The command line's client parts without I/O: GENIUS_HOST, Ollama lines to events,
``/set parameter``, "did you mean", and the cost of finding no server."""

from __future__ import annotations

import datetime as dt
import json
import socket
import subprocess
import sys
from typing import Any

import anyio
import pytest
import trio
import trio.testing

from rusty_genius._cli._chat_settings import set_parameter
from rusty_genius._cli._ollama_events import (
    AnswerLines,
    PullLines,
    request_body,
    status_of_running,
)
from rusty_genius._cli._suggest import did_you_mean, usage_hint
from rusty_genius._cli._where import ServerUrl, is_listening, server_url
from rusty_genius._serve._models_ollama import PullStatus, RunningModel
from rusty_genius_core import (
    AssetComplete,
    AssetProgress,
    AssetStarted,
    ChatMessage,
    Complete,
    ConfigError,
    Content,
    FinishReason,
    InferenceConfig,
    ProcessStart,
    Role,
    Thought,
    ThoughtDelta,
    ThoughtStart,
    ThoughtStop,
)


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("", "http://127.0.0.1:8080"),
        ("localhost", "http://localhost:8080"),
        ("0.0.0.0:11434", "http://0.0.0.0:11434"),
        (":9000", "http://127.0.0.1:9000"),
        ("http://example.com:81/", "http://example.com:81"),
        ("https://example.com", "https://example.com:443"),
        ("HTTP://[::1]:8081", "http://[::1]:8081"),
    ],
)
def test_genius_host_reads_as_ollama_host(text: str, url: str) -> None:
    assert server_url(text).url == url


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ftp://host", "the scheme must be http or https"),
        ("host:0", "is not an address"),
        ("host:70000", "is not an address"),
        ("host:port", "is not an address"),
    ],
)
def test_a_malformed_genius_host_says_what_is_expected(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        server_url(text)


async def test_a_closed_loopback_port_is_not_a_server() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        assert not await is_listening(ServerUrl(scheme="http", host="127.0.0.1", port=port))
        closed.listen()
        assert await is_listening(ServerUrl(scheme="http", host="127.0.0.1", port=port))


@pytest.mark.parametrize(
    "anyio_backend",
    [pytest.param(("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)}), id="trio")],
)
async def test_a_host_that_never_answers_is_given_up_on(
    anyio_backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connect that hangs (a firewall dropping packets) ends after ``within`` seconds."""
    began = trio.current_time()

    async def hang(host: str, port: int) -> None:
        await trio.sleep_forever()

    monkeypatch.setattr(anyio, "connect_tcp", hang)
    server = ServerUrl(scheme="http", host="192.0.2.1", port=8080)
    assert not await is_listening(server, within=0.5)
    assert trio.current_time() - began == pytest.approx(0.5)


def test_a_request_carries_every_setting() -> None:
    config = InferenceConfig(max_tokens=7, seed=3, stop=("x",), context_size=64)
    path, body = request_body("m", "hi", config=config, keep_alive=-1)
    assert path == "/api/chat"
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert body["keep_alive"] == -1
    assert body["think"] is True
    sampling = config.sampling
    assert body["options"] == {
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "top_k": sampling.top_k,
        "min_p": sampling.min_p,
        "repeat_penalty": sampling.repeat_penalty,
        "num_predict": 7,
        "seed": 3,
        "stop": ["x"],
        "num_ctx": 64,
    }
    raw_path, raw = request_body("m", "The", config=InferenceConfig(raw=True), keep_alive=None)
    assert (raw_path, raw["prompt"], raw["raw"]) == ("/api/generate", "The", True)
    assert "keep_alive" not in raw
    messages = [
        ChatMessage(role=Role.SYSTEM, content="s"),
        ChatMessage(role=Role.USER, content="u"),
    ]
    _, chat = request_body("m", messages, config=InferenceConfig(), keep_alive=None)
    assert [m["role"] for m in chat["messages"]] == ["system", "user"]


def _chat_line(
    content: str = "", thinking: str | None = None, **final: object
) -> dict[str, object]:
    message: dict[str, object] = {"role": "assistant", "content": content}
    if thinking is not None:
        message["thinking"] = thinking
    return {
        "model": "m",
        "created_at": "2026-01-01T00:00:00Z",
        "message": message,
        "done": False,
    } | final


def test_answer_lines_become_the_events_genius_infer_yields() -> None:
    ticks = iter([10.0, 10.5])
    reader = AnswerLines("m", chat=True, clock=lambda: next(ticks))
    events = [
        *reader.feed(_chat_line(thinking="hm")),
        *reader.feed(_chat_line(content="Paris")),
        *reader.feed(
            _chat_line(
                done=True,
                done_reason="length",
                load_duration=0,
                prompt_eval_count=4,
                prompt_eval_duration=2_000_000,
                eval_count=2,
                eval_duration=500_000_000,
            )
        ),
    ]
    assert reader.done
    assert events[:5] == [
        ProcessStart(model="m"),
        Thought(event=ThoughtStart()),
        Thought(event=ThoughtDelta(text="hm")),
        Thought(event=ThoughtStop()),
        Content(text="Paris"),
    ]
    [complete] = events[5:]
    assert isinstance(complete, Complete)
    usage = complete.usage
    assert (usage.prompt_tokens, usage.completion_tokens) == (4, 2)
    assert usage.time_to_first_token == 0.5
    assert usage.load_duration == 0
    assert usage.prompt_duration == 0.002
    assert usage.decode_tokens_per_second == 4.0
    assert usage.finish_reason is FinishReason.LENGTH


def test_a_thought_left_open_closes_at_the_end_and_generate_lines_read_too() -> None:
    reader = AnswerLines("m", chat=False)
    line = {"model": "m", "created_at": "t", "response": "", "thinking": "a", "done": False}
    assert reader.feed(line)[-1] == Thought(event=ThoughtDelta(text="a"))
    last = reader.feed({**line, "thinking": None, "done": True, "done_reason": "cancelled"})
    assert last[0] == Thought(event=ThoughtStop())
    assert isinstance(last[1], Complete)
    assert last[1].usage.finish_reason is FinishReason.CANCELLED


def test_pull_lines_become_asset_events() -> None:
    reader = PullLines("org/r", where="http://s")
    feed = [
        PullStatus(status="pulling manifest"),
        PullStatus(status="pulling f.gguf", digest="f.gguf", total=10, completed=0),
        PullStatus(status="pulling f.gguf", digest="f.gguf", total=10, completed=4),
        PullStatus(status="verifying sha256 digest"),
        PullStatus(status="success"),
    ]
    events = [e for line in feed for e in reader.feed(line)]
    assert events == [
        AssetStarted(reference="org/r", filename="f.gguf", total=10),
        AssetProgress(filename="f.gguf", done=4, total=10),
        AssetComplete(reference="org/r", path="http://s"),
    ]
    assert reader.done


def _running(expires: dt.datetime) -> RunningModel:
    return RunningModel.model_validate(
        {
            "name": "m",
            "model": "m",
            "size": 5,
            "digest": "",
            "details": {
                "parent_model": "",
                "format": "gguf",
                "family": "",
                "families": None,
                "parameter_size": "",
                "quantization_level": "Q4_1",
            },
            "expires_at": expires.isoformat().replace("+00:00", "Z"),
            "size_vram": 0,
        }
    )


def test_a_ps_row_keeps_its_expiry_and_go_s_longest_duration_is_never() -> None:
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    status = status_of_running(_running(soon))
    assert (status.name, status.size, status.quantization, status.loaded) == ("m", 5, "Q4_1", True)
    assert status.expires_at == pytest.approx(soon.timestamp(), abs=1e-3)
    forever = dt.datetime.now(dt.UTC) + dt.timedelta(days=290 * 365)
    assert status_of_running(_running(forever)).expires_at is None


@pytest.mark.parametrize(
    ("name", "words", "check"),
    [
        ("temperature", ["0"], lambda c: c.sampling.temperature == 0),
        ("top_k", ["5"], lambda c: c.sampling.top_k == 5),
        ("num_predict", ["9"], lambda c: c.max_tokens == 9),
        ("num_ctx", ["2048"], lambda c: c.context_size == 2048),
        ("seed", ["42"], lambda c: c.seed == 42),
        ("stop", ["a", "b"], lambda c: c.stop == ("a", "b")),
    ],
)
def test_set_parameter_changes_the_config(name: str, words: list[str], check: object) -> None:
    config = set_parameter(InferenceConfig(), name, words)
    assert callable(check)
    assert check(config)


@pytest.mark.parametrize(
    ("name", "words", "message"),
    [
        ("temperature", ["9"], "temperature must be between 0 and 5, got 9"),
        ("num_predict", ["0"], "num_predict must be between 1 and 16777216, got 0"),
        ("top_k", ["1.5"], "top_k must be a whole number between 0 and 1048576, got '1.5'"),
        ("temperature", ["nan"], "temperature must be between 0 and 5, got nan"),
        ("temprature", ["1"], "unknown parameter 'temprature'; did you mean 'temperature'?"),
        ("seed", [], "/set parameter seed needs a value"),
        ("seed", ["1", "2"], "seed takes one value, got 2"),
    ],
)
def test_set_parameter_names_what_is_wrong(name: str, words: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        set_parameter(InferenceConfig(), name, words)
    assert str(raised.value).startswith(message)


def test_did_you_mean() -> None:
    assert did_you_mean("runn", ["pull", "run", "rm"]) == "; did you mean 'run'?"
    assert did_you_mean("zzz", ["pull", "run"]) == ""
    choice = "argument COMMAND: invalid choice: 'lsit' (choose from 'pull', 'list', 'rm')"
    assert usage_hint(choice, []) == "; did you mean 'list'?"
    unknown = "unrecognized arguments: hi --max-tokns=3"
    assert usage_hint(unknown, ["--max-tokens", "--seed"]) == "; did you mean '--max-tokens'?"
    assert usage_hint("the following arguments are required: REF", ["--seed"]) == ""


COLD = """
import sys
from typing import Any
import rusty_genius._cli
print(*[m for m in ("httpx", "pydantic", "prompt_toolkit", "difflib") if m in sys.modules])
"""


def test_importing_the_cli_pulls_in_no_client_editor_or_suggestions() -> None:
    done = subprocess.run(
        [sys.executable, "-c", COLD], capture_output=True, text=True, check=True, timeout=60
    )
    # difflib comes with facecrab's resolver today; the CLI itself must not add the others
    assert set(done.stdout.split()) <= {"difflib"}


def test_a_closed_genius_host_costs_one_refused_connect(tmp_path) -> None:
    """No server: the command runs in-process after one refused connect, no HTTP client."""
    script = (
        "import sys; from rusty_genius._cli import main; code = main(sys.argv[1:]); "
        "print(code, 'httpx' in sys.modules, file=sys.stderr)"
    )
    env = {
        "GENIUS_HOME": str(tmp_path / "h"),
        "GENIUS_CACHE": str(tmp_path / "c"),
        "GENIUS_HOST": "127.0.0.1:9",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-c", script, "--json", "-v", "ps"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.stderr.splitlines()[-1] == "0 False", done.stderr
    assert "no server at http://127.0.0.1:9 (GENIUS_HOST); running in-process" in done.stderr
    assert [json.loads(line) for line in done.stdout.splitlines()] == []
