"""LoRA adapter GGUFs for tests, written with the ``gguf`` package (none ships on PyPI).

:func:`write_lora_gguf` reads a base GGUF's tensor shapes and writes an adapter the way
llama.cpp's ``convert_lora_to_gguf.py`` does: ``general.type = "adapter"``,
``adapter.type = "lora"``, ``adapter.lora.alpha``, and for each targeted weight
``<tensor>.lora_a`` (rank x n_in) and ``<tensor>.lora_b`` (n_out x rank), float32.
llama.cpp applies ``scale * alpha / rank * B @ A``; B all zeros (``b_std=0``) is an
adapter that changes nothing. The knobs that make a *bad* file (another architecture,
a model's ``general.type``, no ``adapter.type``) are here too, for the refusals.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

import gguf
import numpy as np

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["DEFAULT_TARGETS", "tiny_lora", "write_lora_gguf"]

DEFAULT_TARGETS: Final = ("attn_q", "attn_v", "ffn_up")
"""The weights of each block an adapter adapts unless told otherwise."""


def write_lora_gguf(
    dest: Path,
    base: Path,
    *,
    rank: int = 8,
    alpha: float | None = None,
    a_std: float = 0.05,
    b_std: float = 0.0,
    seed: int = 0,
    targets: tuple[str, ...] = DEFAULT_TARGETS,
    architecture: str | None = None,
    general_type: str | None = "adapter",
    adapter_type: str | None = "lora",
) -> Path:
    """Write a LoRA adapter for the GGUF ``base`` at ``dest``; return ``dest``.

    ``seed`` makes A and B reproducible; ``architecture`` overrides the base's (a
    wrong-architecture adapter); ``general_type``/``adapter_type`` ``None`` leave the
    key out.
    """
    reader = gguf.GGUFReader(base)
    arch = architecture or _string(reader, "general.architecture")
    pattern = re.compile(rf"^blk\.\d+\.(?:{'|'.join(map(re.escape, targets))})\.weight$")
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(dest, arch)
    if general_type is not None:
        writer.add_string("general.type", general_type)
    if adapter_type is not None:
        writer.add_string("adapter.type", adapter_type)
    writer.add_float32("adapter.lora.alpha", float(rank if alpha is None else alpha))
    for tensor in reader.tensors:
        if not pattern.fullmatch(tensor.name):
            continue
        n_in, n_out = (int(d) for d in tensor.shape[:2])
        lora_a = (rng.standard_normal((rank, n_in)) * a_std).astype(np.float32)
        lora_b = (rng.standard_normal((n_out, rank)) * b_std).astype(np.float32)
        writer.add_tensor(f"{tensor.name}.lora_a", lora_a)
        writer.add_tensor(f"{tensor.name}.lora_b", lora_b)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return dest


def _string(reader: gguf.GGUFReader, key: str) -> str:
    field = reader.get_field(key)
    if field is None:
        raise ValueError(f"{key} is missing from the base GGUF")
    return str(field.contents())


def tiny_lora(dest: Path, *, general_type: str = "adapter") -> Path:
    """A small LoRA adapter GGUF (llama architecture, one zero-filled rank-4 pair) that
    needs no base file to write; ``general_type="model"`` makes the file a refusal names."""
    writer = gguf.GGUFWriter(str(dest), "llama")
    writer.add_string("general.type", general_type)
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", 4.0)
    writer.add_tensor("blk.0.attn_q.weight.lora_a", np.zeros((4, 64), dtype=np.float32))
    writer.add_tensor("blk.0.attn_q.weight.lora_b", np.zeros((64, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return dest
