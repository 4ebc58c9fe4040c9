"""The ggml tensor-type table, against gguf-py's, and the truncation diagnosis that reads it."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

import pytest
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

from rusty_genius_cortex._diagnose import tensor_data_problem
from rusty_genius_cortex._ggml_types import GGML_TYPES

if TYPE_CHECKING:
    from pathlib import Path

# gguf-py still describes block_q8_1 with two float scales; ggml stores two halves (36 bytes).
KNOWN_DIFFERENCES = {GGMLQuantizationType.Q8_1: (32, 36)}


def test_the_table_has_every_type_gguf_py_knows_with_its_layout() -> None:
    assert sorted(GGML_TYPES) == sorted(t.value for t in GGMLQuantizationType)
    for kind in GGMLQuantizationType:
        ours = GGML_TYPES[kind.value]
        expected = KNOWN_DIFFERENCES.get(kind, GGML_QUANT_SIZES[kind])
        assert (ours.id, ours.name) == (kind.value, kind.name)
        assert (ours.block_size, ours.type_size) == expected, kind.name


def test_bytes_of_a_tensor() -> None:
    assert GGML_TYPES[0].nbytes(10) == 40  # F32
    assert GGML_TYPES[12].nbytes(4096 * 256) == 4096 * 144  # Q4_K
    assert GGML_TYPES[39].nbytes(64) == 34  # MXFP4


def _tensor_file(tmp_path: Path, ggml_type: int, elements: int, data: int) -> tuple[Path, int]:
    """A tensor section of one 1-D tensor (metadata_end is 0) and ``data`` bytes of data."""
    name = b"blk.0.weight"
    desc = struct.pack("<Q", len(name)) + name + struct.pack("<IQIQ", 1, elements, ggml_type, 0)
    desc += b"\0" * (-len(desc) % 32)
    path = tmp_path / "tensors.bin"
    path.write_bytes(desc + b"\0" * data)
    return path, len(desc)


@pytest.mark.parametrize(
    ("ggml_type", "needed"),
    [(16, 66 * 16), (34, 54 * 16), (39, 17 * 128), (23, 136 * 16)],  # IQ2_XXS TQ1_0 MXFP4 IQ4_XS
)
def test_truncation_is_measured_for_i_quants_tq_and_mxfp4(
    tmp_path: Path, ggml_type: int, needed: int
) -> None:
    elements = 4096
    path, start = _tensor_file(tmp_path, ggml_type, elements, needed - 1)
    problem = tensor_data_problem(path, 0, 1)
    assert problem == (
        f"truncated GGUF: the tensor data needs {start + needed} bytes but the file has "
        f"{start + needed - 1} (an interrupted download?)"
    )
    path, _ = _tensor_file(tmp_path, ggml_type, elements, needed)
    assert tensor_data_problem(path, 0, 1) is None
