"""The command line as a client of ``genius serve`` (real HTTP on loopback), and without one.

With a server at ``GENIUS_HOST`` the model stays loaded between commands: the second
``genius run`` reports no load time and ``genius ps`` lists the model with its expiry.
With none, the same commands run in-process and ``--verbose`` says so.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest

from rusty_genius import InferenceEvent
from rusty_genius.protocol import ModelStatus, from_dict
from rusty_genius_testhub import TEST_MODELS

from .conftest import json_rows

if TYPE_CHECKING:
    import subprocess

SMOLLM2 = TEST_MODELS["smollm2"]
REF = f"{SMOLLM2.repo}:{SMOLLM2.quantization}"
ALIAS = "smollm2-135m-instruct"


def usage_of(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    rows = json_rows(done)
    for row in rows:
        from_dict(row, InferenceEvent)  # every row is one of the library's events
    [complete] = [r for r in rows if r["type"] == "complete"]
    usage: dict[str, Any] = complete["usage"]
    return usage


def test_with_a_server_the_model_stays_loaded_between_commands(offline_cli) -> None:
    with offline_cli.json_server("--backend", "pinky") as url:
        host = {"GENIUS_HOST": url}
        first = offline_cli("run", "--json", "--keep-alive", "600", ALIAS, "one two", **host)
        second = offline_cli("run", "--json", "--keep-alive", "600", ALIAS, "three", **host)
        assert usage_of(first)["load_duration"] > 0
        assert usage_of(second)["load_duration"] == 0
        assert [r["text"] for r in json_rows(second) if r["type"] == "content"] == ["three"]

        before = time.time()
        [row] = json_rows(offline_cli("ps", "--json", **host))
        status = from_dict(row, ModelStatus)
        assert (status.name, status.loaded) == (ALIAS, True)
        assert status.expires_at is not None
        assert before < status.expires_at <= time.time() + 600
        table = offline_cli("ps", **host)
        assert table.stdout.splitlines()[0].split() == ["NAME", "SIZE", "UNTIL"]
        assert table.stdout.splitlines()[1].startswith(ALIAS)
        assert table.stdout.splitlines()[1].endswith("in 10 minutes")

        verbose = offline_cli("-v", "run", ALIAS, "four", **host)
        assert verbose.returncode == 0, verbose.stderr
        assert f"genius: using the server at {url}" in verbose.stderr
        assert verbose.stdout.endswith("four\n")

        stopped = offline_cli("stop", ALIAS, **host)
        assert stopped.returncode == 0, stopped.stderr
        assert stopped.stderr == f"genius: unloaded {ALIAS} on the server at {url}\n"
        assert json_rows(offline_cli("ps", "--json", **host)) == []
        again = offline_cli("stop", ALIAS, **host)
        assert again.returncode == 2
        assert "is not loaded on the server" in again.stderr


def test_without_a_server_the_same_commands_run_in_process(offline_cli) -> None:
    first = offline_cli("-v", "run", "--json", "--backend", "pinky", ALIAS, "one two")
    second = offline_cli("run", "--json", "--backend", "pinky", ALIAS, "three")
    assert "running in-process: --backend given" in first.stderr
    assert usage_of(first)["load_duration"] > 0
    assert usage_of(second)["load_duration"] > 0  # each command loads in its own process
    verbose = offline_cli("-v", "ps")
    assert verbose.returncode == 0, verbose.stderr
    assert verbose.stdout == ""
    assert "no server at http://127.0.0.1:9 (GENIUS_HOST); running in-process" in verbose.stderr
    assert "start `genius serve`" in verbose.stderr
    stop = offline_cli("stop", ALIAS)
    assert stop.returncode == 0, stop.stderr
    assert "nothing to stop" in stop.stderr


def test_json_has_one_shape_on_the_server_and_in_process(offline_cli) -> None:
    local = json_rows(offline_cli("run", "--json", "--backend", "pinky", ALIAS, "a b c"))
    with offline_cli.json_server("--backend", "pinky") as url:
        remote = json_rows(offline_cli("run", "--json", ALIAS, "a b c", GENIUS_HOST=url))
    shape = [(r["type"], r.get("event", {}).get("type"), sorted(r)) for r in local]
    assert [(r["type"], r.get("event", {}).get("type"), sorted(r)) for r in remote] == shape
    assert [r for r in remote if r["type"] == "content"] == [
        r for r in local if r["type"] == "content"
    ]


def test_the_server_lists_pulls_and_removes_models(cli) -> None:
    with cli.json_server("--backend", "pinky") as url:
        host = {"GENIUS_HOST": url}
        pulled = cli("pull", "--json", REF, **host)
        rows = json_rows(pulled)
        assert rows[0]["type"] == "asset_started"
        assert rows[-1] == {
            "type": "asset_complete",
            "reference": REF,
            "path": url,
            "cached": False,
        }
        [listed] = json_rows(cli("list", "--json", **host))
        assert (listed["name"], listed["quantization"]) == (REF, SMOLLM2.quantization)
        assert cli.model_path().is_file()  # the server's files: the same GENIUS_CACHE here
        for form in (
            ("info", "--json", REF),
            ("info", REF),
        ):  # /api/show; in-process reads the file
            remote, local = cli(*form, **host), cli(*form)
            assert (remote.returncode, local.returncode) == (0, 0), remote.stderr + local.stderr
            assert remote.stdout == local.stdout
        [shown] = json_rows(cli("info", "--json", REF, **host))
        assert (shown["architecture"], shown["path"]) == ("llama", str(cli.model_path()))
        removed = cli("rm", REF, **host)
        assert (removed.returncode, removed.stderr) == (0, f"genius: removed {REF}\n")
        assert not cli.model_path().exists()
        missing = cli("rm", REF, **host)
        assert missing.returncode == 1
        assert f"model {REF!r} is not downloaded; nothing to remove" in missing.stderr
        gone = cli("info", REF, **host)
        assert gone.returncode == 1
        assert f"model {REF!r} is not downloaded on the server at {url}" in gone.stderr


def test_a_server_that_wants_a_key_gets_genius_api_key(offline_cli) -> None:
    with offline_cli.json_server("--backend", "pinky", GENIUS_API_KEY="sesame") as url:
        refused = offline_cli("ps", GENIUS_HOST=url)
        assert refused.returncode == 2
        assert "wants an API key: set GENIUS_API_KEY" in refused.stderr
        allowed = offline_cli("ps", GENIUS_HOST=url, GENIUS_API_KEY="sesame")
        assert allowed.returncode == 0, allowed.stderr
        assert "no model is loaded on the server" in allowed.stderr


@pytest.mark.parametrize("host", ["ftp://x", "127.0.0.1:99999", "http://:x"])
def test_a_malformed_genius_host_is_bad_input(offline_cli, host: str) -> None:
    done = offline_cli("ps", GENIUS_HOST=host)
    assert done.returncode == 2
    assert "GENIUS_HOST=" in done.stderr


@pytest.mark.real
@pytest.mark.usefixtures("llama_cpp_module")
def test_smollm2_stays_loaded_on_the_server_between_runs(cli) -> None:
    assert cli("pull", REF).returncode == 0
    with cli.json_server("--backend", "llama") as url:
        host = {"GENIUS_HOST": url}
        ask = ("run", "--json", "--temperature", "0", "--max-tokens", "8", REF)
        first = usage_of(cli(*ask, "What is the capital of France? Answer in one word.", **host))
        second = cli(*ask, "What is the capital of France? Answer in one word.", **host)
        assert first["load_duration"] > 0
        assert usage_of(second)["load_duration"] == 0
        text = "".join(r["text"] for r in json_rows(second) if r["type"] == "content")
        assert "Paris" in text
        [row] = json_rows(cli("ps", "--json", **host))
        assert row["name"] == REF
        assert row["expires_at"] > time.time()
