"""``genius create``/``cp``/``rm``/``info`` for created models, in-process and through a server."""

from __future__ import annotations

import hashlib
import tomllib
from typing import TYPE_CHECKING, Any

import httpx

from rusty_genius_cortex import pinky_tokens
from rusty_genius_testhub.lora import tiny_lora

from .conftest import json_rows

if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

ALIAS = "smollm2-135m-instruct"
SYSTEM = "Answer every question with the single word: banana"
MODELFILE = f"""# a created model
FROM {ALIAS}
ADAPTER ./adapters/router-lora.gguf
PARAMETER temperature 0
PARAMETER stop gamma
SYSTEM {SYSTEM}
MESSAGE user Is it ripe?
MESSAGE assistant banana
"""


def usage_of(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    [complete] = [r for r in json_rows(done) if r["type"] == "complete"]
    usage: dict[str, Any] = complete["usage"]
    return usage


PLAIN = MODELFILE.replace("ADAPTER ./adapters/router-lora.gguf\n", "")
"""The same model without its adapter: the one whose answers Pinky is asked for."""


def _modelfile(tmp_path: Path, text: str = MODELFILE) -> tuple[Path, str]:
    folder = tmp_path / "project"
    (folder / "adapters").mkdir(parents=True)
    adapter = tiny_lora(folder / "adapters" / "router-lora.gguf")
    (folder / "Modelfile").write_text(text, "utf-8")
    return folder / "Modelfile", hashlib.sha256(adapter.read_bytes()).hexdigest()


def _content(done: Any) -> str:
    return "".join(r["text"] for r in json_rows(done) if r["type"] == "content")


def test_create_run_copy_rm_in_process(offline_cli: Any, tmp_path: Path) -> None:
    modelfile, sha = _modelfile(tmp_path)
    made = offline_cli("create", "bot", "-f", str(modelfile), "--backend", "pinky")
    assert made.returncode == 0, made.stderr
    assert made.stderr == "genius: created bot\n"
    manifest = tomllib.loads((offline_cli.home / "manifest.toml").read_text("utf-8"))
    bot = manifest["models"]["bot"]
    assert (bot["base"], bot["system"], bot["parameters"]) == (
        ALIAS,
        SYSTEM,
        {"temperature": 0.0, "stop": ["gamma"]},
    )
    [adapter] = bot["adapters"]
    assert (adapter["name"], adapter["sha256"]) == ("router-lora", sha)
    assert adapter["path"] == str(offline_cli.home / "blobs" / f"sha256-{sha}")

    question = "alpha beta gamma delta"
    (modelfile.parent / "Plain").write_text(PLAIN, "utf-8")
    plain = offline_cli(
        "create", "plain", "-f", str(modelfile.parent / "Plain"), "--backend", "pinky"
    )
    assert plain.returncode == 0, plain.stderr
    created = offline_cli("run", "--json", "--backend", "pinky", "plain", question)
    explicit = offline_cli(
        "run", "--json", "--backend", "pinky", "--system", SYSTEM, "--stop", "gamma",
        "--temperature", "0", ALIAS, question,
    )  # fmt: skip
    assert _content(created) == "alpha beta "  # Pinky echoes; the model's stop cut it
    # Pinky counts the messages joined: the system prompt, the two MESSAGE turns, the question.
    seen = "\n".join([SYSTEM, "Is it ripe?", "banana", question])
    assert usage_of(created)["prompt_tokens"] == len(pinky_tokens(seen))
    assert usage_of(explicit)["prompt_tokens"] == len(pinky_tokens(f"{SYSTEM}\n{question}"))

    adapted = offline_cli("run", "--json", "--backend", "pinky", "bot", question)
    assert _content(adapted) == "[adapters: router-lora] alpha beta "  # Pinky names them

    listed = json_rows(offline_cli("list", "--json", "--backend", "pinky"))
    assert [(r["name"], r["downloaded"]) for r in listed] == [("bot", False), ("plain", False)]
    copied = offline_cli("cp", "bot", "bot2", "--backend", "pinky")
    assert copied.stderr == "genius: copied bot to bot2\n"
    removed = offline_cli("rm", "bot", "--backend", "pinky")
    assert removed.returncode == 0, removed.stderr
    after = tomllib.loads((offline_cli.home / "manifest.toml").read_text("utf-8"))
    assert sorted(after["models"]) == ["bot2", "plain"]
    assert after["models"]["bot2"] == bot


def test_create_errors_name_the_line_and_change_nothing(offline_cli: Any, tmp_path: Path) -> None:
    modelfile, _ = _modelfile(tmp_path, f"FROM {ALIAS}\nSYSTEM hi\nQUANTIZE q4\n")

    def refused(path: Path, text: str | None = None) -> str:
        """``genius create bot -f PATH`` (PATH holding ``text`` when given): exit 2; stderr."""
        if text is not None:
            path.write_text(text, "utf-8")
        done = offline_cli("create", "bot", "-f", str(path), "--backend", "pinky")
        assert done.returncode == 2
        return str(done.stderr)

    assert "Modelfile line 3: unknown instruction 'QUANTIZE'" in refused(modelfile)
    go = refused(modelfile.parent / "Go", f"FROM {ALIAS}\nTEMPLATE {{{{ .Prompt }}}}\n")
    assert "line 2: TEMPLATE is a Go template" in go
    assert "only Jinja chat templates" in go
    assert "cannot read the Modelfile" in refused(tmp_path / "nope")
    gone = refused(modelfile.parent / "NoAdapter", f"FROM {ALIAS}\nADAPTER ./gone.gguf\n")
    assert f"ADAPTER ./gone.gguf: no such file {str(modelfile.parent / 'gone.gguf')!r}" in gone
    tiny_lora(modelfile.parent / "model.gguf", general_type="model")
    wrong = refused(modelfile.parent / "Wrong", f"FROM {ALIAS}\nADAPTER model.gguf\n")
    assert "is not a LoRA adapter: its general.type is 'model'" in wrong
    assert not (offline_cli.home / "blobs").exists()  # checked before anything was copied
    base = refused(modelfile.parent / "Unknown", "FROM nowhere\n")
    assert "base model 'nowhere' is not an alias" in base
    assert not (offline_cli.home / "manifest.toml").exists()


def test_with_a_server_create_cp_rm_go_through_it(offline_cli: Any, tmp_path: Path) -> None:
    modelfile, sha = _modelfile(tmp_path)
    with offline_cli.json_server("--backend", "pinky") as url:
        host = {"GENIUS_HOST": url}
        made = offline_cli("-v", "create", "bot", "-f", str(modelfile), **host)
        assert made.returncode == 0, made.stderr
        assert f"genius: using the server at {url}" in made.stderr
        assert "genius: success\n" in made.stderr
        shown = httpx.post(f"{url}/api/show", json={"model": "bot"}).json()
        assert shown["system"] == SYSTEM
        assert shown["adapters"][0]["path"].endswith(f"sha256-{sha}")
        (modelfile.parent / "Plain").write_text(PLAIN, "utf-8")
        plain = offline_cli("create", "plain", "-f", str(modelfile.parent / "Plain"), **host)
        assert plain.returncode == 0, plain.stderr
        answer = offline_cli("run", "--json", "plain", "alpha beta gamma delta", **host)
        assert _content(answer) == "alpha beta "
        info = offline_cli("info", "--json", "bot", **host)
        copied = offline_cli("cp", "bot", "bot2", **host)
        assert copied.returncode == 0, copied.stderr
        removed = offline_cli("rm", "bot", **host)
        assert removed.returncode == 0, removed.stderr
        after = httpx.post(f"{url}/api/show", json={"model": "bot2"}).json()
    assert after["system"] == SYSTEM
    manifest = tomllib.loads((offline_cli.home / "manifest.toml").read_text("utf-8"))
    assert sorted(manifest["models"]) == ["bot2", "plain"]
    # Pinky needs no file: info through the server reports the created part all the same.
    [record] = json_rows(info)
    assert record["created"] == {
        "base": ALIAS,
        "system": SYSTEM,
        "template": None,
        "parameters": ["temperature 0", 'stop "gamma"'],
        "messages": [
            {"role": "user", "content": "Is it ripe?"},
            {"role": "assistant", "content": "banana"},
        ],
        "adapters": ["router-lora"],
        "license": None,
    }
