"""``genius create`` from a Modelfile with FROM, ADAPTER, PARAMETER and SYSTEM, on llama.cpp.

The adapter is a LoRA GGUF written with the ``gguf`` package by testhub's
``write_lora_gguf`` (none ships on PyPI) with B matrices of zeros, so it changes nothing: the created model's answer must
be exactly the base model's answer to the prompt sent with that system prompt and
``--temperature 0``, and differ from the answer without the system prompt.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from rusty_genius_testhub.lora import write_lora_gguf

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.real

ALIAS = "smollm2-135m-instruct"
SYSTEM = "Answer every question with the single word: banana"
QUESTION = "What colour is the sky?"


def _content(done: Any) -> str:
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    return "".join(r["text"] for r in rows if r["type"] == "content")


def test_genius_create_with_from_adapter_parameter_system(
    cli: Any, tmp_path: Path, llama_cpp_module: object
) -> None:
    folder = tmp_path / "banana"
    folder.mkdir()
    (folder / "Modelfile").write_text(
        f"FROM {ALIAS}\nADAPTER ./zero-lora.gguf\nPARAMETER temperature 0\n"
        f"PARAMETER num_predict 24\nSYSTEM {SYSTEM}\n",
        "utf-8",
    )
    pulled = cli("pull", ALIAS, timeout=600)
    assert pulled.returncode == 0, pulled.stderr
    write_lora_gguf(folder / "zero-lora.gguf", cli.model_path(), b_std=0.0)
    made = cli("create", "banana", "-f", str(folder / "Modelfile"), "--backend", "llama")
    assert made.returncode == 0, made.stderr
    llama = ("--json", "--backend", "llama")
    created = _content(cli("run", *llama, "banana", QUESTION, timeout=600))
    explicit = _content(
        cli(
            "run", *llama, "--system", SYSTEM, "--temperature", "0", "--max-tokens", "24",
            ALIAS, QUESTION, timeout=600,
        )
    )  # fmt: skip
    plain = _content(
        cli("run", *llama, "--temperature", "0", "--max-tokens", "24", ALIAS, QUESTION)
    )
    assert created == explicit
    assert created != plain
    assert _content(cli("run", *llama, "banana", QUESTION, timeout=600)) == created


def test_an_adapter_for_another_architecture_is_refused_at_create(cli: Any, tmp_path: Path) -> None:
    pulled = cli("pull", ALIAS, timeout=600)
    assert pulled.returncode == 0, pulled.stderr
    write_lora_gguf(tmp_path / "qwen-lora.gguf", cli.model_path(), architecture="qwen2")
    (tmp_path / "Modelfile").write_text(f"FROM {ALIAS}\nADAPTER qwen-lora.gguf\n", "utf-8")
    refused = cli("create", "wrong", "-f", str(tmp_path / "Modelfile"), "--backend", "llama")
    assert refused.returncode == 2
    assert (
        f"adapter 'qwen-lora' ({tmp_path / 'qwen-lora.gguf'}) was made for the architecture "
        "'qwen2', but its base model is 'llama'"
    ) in refused.stderr
    assert not (cli.home / "manifest.toml").exists()
