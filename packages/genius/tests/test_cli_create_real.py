"""``genius create`` from a Modelfile with FROM, ADAPTER, PARAMETER and SYSTEM, on llama.cpp.

The adapter is a LoRA GGUF this test writes with the ``gguf`` package (none ships on
PyPI) with B matrices of zeros, so it changes nothing: the created model's answer must
be exactly the base model's answer to the prompt sent with that system prompt and
``--temperature 0``, and differ from the answer without the system prompt.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.real

ALIAS = "smollm2-135m-instruct"
SYSTEM = "Answer every question with the single word: banana"
QUESTION = "What colour is the sky?"
_EMBEDDING = 576  # SmolLM2-135M's n_embd (and its attn_q's output)
_LAYERS = 30


def write_zero_lora(path: Path, rank: int = 8) -> None:
    """A LoRA adapter GGUF over SmolLM2-135M's attn_q whose B matrices are zero."""
    import gguf

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_type("adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(rank))
    for layer in range(_LAYERS):
        a = np.full((rank, _EMBEDDING), 0.01, dtype=np.float32)
        b = np.zeros((_EMBEDDING, rank), dtype=np.float32)
        writer.add_tensor(f"blk.{layer}.attn_q.weight.lora_a", a)
        writer.add_tensor(f"blk.{layer}.attn_q.weight.lora_b", b)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _content(done: Any) -> str:
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    return "".join(r["text"] for r in rows if r["type"] == "content")


def test_genius_create_with_from_adapter_parameter_system(
    cli: Any, tmp_path: Path, llama_cpp_module: object
) -> None:
    folder = tmp_path / "banana"
    folder.mkdir()
    write_zero_lora(folder / "zero-lora.gguf")
    (folder / "Modelfile").write_text(
        f"FROM {ALIAS}\nADAPTER ./zero-lora.gguf\nPARAMETER temperature 0\n"
        f"PARAMETER num_predict 24\nSYSTEM {SYSTEM}\n",
        "utf-8",
    )
    pulled = cli("pull", ALIAS, timeout=600)
    assert pulled.returncode == 0, pulled.stderr
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
