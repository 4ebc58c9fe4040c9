"""The LoRA adapter check: GGUF metadata alone says whether a file fits a base model."""

from __future__ import annotations

from typing import TYPE_CHECKING

import gguf
import numpy as np
import pytest

from rusty_genius_core import AdapterFile, EngineError, ManifestError
from rusty_genius_cortex import AdapterError, check_adapters, check_lora_adapter
from rusty_genius_testhub.lora import write_lora_gguf

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """A tiny 'llama' model GGUF: two blocks of attn_q/attn_v/ffn_up weights."""
    path = tmp_path / "base.gguf"
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_string("general.type", "model")
    for block in range(2):
        for name, shape in (("attn_q", (8, 8)), ("attn_v", (4, 8)), ("ffn_up", (16, 8))):
            writer.add_tensor(f"blk.{block}.{name}.weight", np.zeros(shape, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_a_lora_adapter_of_the_same_architecture_passes(base: Path, tmp_path: Path) -> None:
    adapter = write_lora_gguf(tmp_path / "a.gguf", base, rank=2)
    info = check_lora_adapter(adapter, "llama", name="tone")
    assert info.metadata["adapter.type"] == "lora"
    assert info.metadata["adapter.lora.alpha"] == 2.0
    assert info.tensor_count == 12  # A and B of 3 weights in 2 blocks
    check_adapters(base, [AdapterFile(name="tone", path=adapter)])
    check_adapters(tmp_path / "not-read-without-adapters.gguf", [])


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        (
            {"architecture": "gemma3"},
            "was made for the architecture 'gemma3', but its base model is 'llama'",
        ),
        (
            {"general_type": "model"},
            "is not a LoRA adapter: its general.type is 'model', not 'adapter'",
        ),
        ({"general_type": None}, "is not a LoRA adapter: its general.type is missing"),
        ({"adapter_type": "cvec"}, "is not a LoRA adapter: its adapter.type is 'cvec', not 'lora'"),
        ({"adapter_type": None}, "is not a LoRA adapter: its adapter.type is missing"),
    ],
)
def test_a_file_that_does_not_fit_is_refused_naming_it_and_the_problem(
    base: Path, tmp_path: Path, options: dict[str, object], problem: str
) -> None:
    adapter = write_lora_gguf(tmp_path / "bad.gguf", base, rank=2, **options)  # type: ignore[arg-type]
    with pytest.raises(AdapterError) as err:
        check_adapters(base, [AdapterFile(name="tone", path=adapter)])
    assert f"adapter 'tone' ({adapter})" in err.value.message
    assert problem in err.value.message
    assert isinstance(err.value, ManifestError)
    assert err.value.user_fault
    assert 400 <= err.value.http_status < 500


def test_a_model_or_a_non_gguf_named_as_an_adapter_is_refused(base: Path, tmp_path: Path) -> None:
    with pytest.raises(
        AdapterError,
        match=r"base\.gguf is not a LoRA adapter: its general\.type is 'model'.*name it as the base",
    ):
        check_lora_adapter(base, "llama")
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a gguf at all")
    with pytest.raises(
        AdapterError,
        match=r"adapter 'x' \(.*junk\.gguf\) is not a readable GGUF file: .*not a GGUF file",
    ):
        check_lora_adapter(junk, "llama", name="x")
    with pytest.raises(
        AdapterError, match=r"missing\.gguf\) is not a readable GGUF file: .*cannot open"
    ):
        check_lora_adapter(tmp_path / "missing.gguf", "llama", name="x")


def test_an_unreadable_base_is_the_base_s_error(base: Path, tmp_path: Path) -> None:
    adapter = write_lora_gguf(tmp_path / "a.gguf", base, rank=2)
    with pytest.raises(EngineError, match=r"nowhere\.gguf: cannot open GGUF"):
        check_adapters(tmp_path / "nowhere.gguf", [AdapterFile(name="a", path=adapter)])
