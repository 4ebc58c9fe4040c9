"""Every ggml tensor type a GGUF file may name: its id, name and block layout.

A tensor of ``n`` elements of type ``t`` takes ``n // t.block_size * t.type_size``
bytes (the element count is a multiple of the block size). The table follows
ggml's ``type_traits`` (``ggml.c``); ids that ggml retired (4, 5: Q4_2/Q4_3;
31-33 and 36-38: the repacked Q4_0/IQ4_NL variants, now chosen at load time) are
absent. A test checks it against gguf-py's ``GGML_QUANT_SIZES``.
"""

from __future__ import annotations

import types
from typing import TYPE_CHECKING, Final

import attrs

from rusty_genius_core._record import Record

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["GGML_TYPES", "GgmlType"]


@attrs.frozen(repr=False, eq=False)
class GgmlType(Record):
    """One ggml tensor type: ``block_size`` elements are stored in ``type_size`` bytes."""

    id: int
    name: str
    block_size: int
    type_size: int

    def nbytes(self, elements: int) -> int:
        """Bytes taken by ``elements`` values of this type."""
        return elements // self.block_size * self.type_size


_QK_K: Final = 256  # elements per super-block of the k-quants and most i-quants

GGML_TYPES: Final[Mapping[int, GgmlType]] = types.MappingProxyType(
    {
        t.id: t
        for t in (
            GgmlType(0, "F32", 1, 4),
            GgmlType(1, "F16", 1, 2),
            GgmlType(2, "Q4_0", 32, 2 + 16),
            GgmlType(3, "Q4_1", 32, 2 + 2 + 16),
            GgmlType(6, "Q5_0", 32, 2 + 4 + 16),
            GgmlType(7, "Q5_1", 32, 2 + 2 + 4 + 16),
            GgmlType(8, "Q8_0", 32, 2 + 32),
            # Two halves and 32 bytes since 2024; gguf-py still says two floats (40).
            GgmlType(9, "Q8_1", 32, 2 + 2 + 32),
            GgmlType(10, "Q2_K", _QK_K, 2 + 2 + _QK_K // 16 + _QK_K // 4),
            GgmlType(11, "Q3_K", _QK_K, 2 + _QK_K // 4 + _QK_K // 8 + 12),
            GgmlType(12, "Q4_K", _QK_K, 2 + 2 + _QK_K // 2 + 12),
            GgmlType(13, "Q5_K", _QK_K, 2 + 2 + _QK_K // 2 + _QK_K // 8 + 12),
            GgmlType(14, "Q6_K", _QK_K, 2 + _QK_K // 16 + 3 * _QK_K // 4),
            GgmlType(15, "Q8_K", _QK_K, 4 + _QK_K + _QK_K // 8),
            GgmlType(16, "IQ2_XXS", _QK_K, 2 + _QK_K // 4),
            GgmlType(17, "IQ2_XS", _QK_K, 2 + _QK_K // 4 + _QK_K // 32),
            GgmlType(18, "IQ3_XXS", _QK_K, 2 + _QK_K // 4 + _QK_K // 8),
            GgmlType(19, "IQ1_S", _QK_K, 2 + _QK_K // 8 + _QK_K // 16),
            GgmlType(20, "IQ4_NL", 32, 2 + 16),
            GgmlType(21, "IQ3_S", _QK_K, 2 + _QK_K // 4 + _QK_K // 8 + _QK_K // 32 + 4),
            GgmlType(22, "IQ2_S", _QK_K, 2 + _QK_K // 4 + _QK_K // 16),
            GgmlType(23, "IQ4_XS", _QK_K, 2 + 2 + _QK_K // 2 + _QK_K // 64),
            GgmlType(24, "I8", 1, 1),
            GgmlType(25, "I16", 1, 2),
            GgmlType(26, "I32", 1, 4),
            GgmlType(27, "I64", 1, 8),
            GgmlType(28, "F64", 1, 8),
            GgmlType(29, "IQ1_M", _QK_K, _QK_K // 8 + _QK_K // 16 + _QK_K // 32),
            GgmlType(30, "BF16", 1, 2),
            GgmlType(34, "TQ1_0", _QK_K, 2 + 4 * 13),
            GgmlType(35, "TQ2_0", _QK_K, 2 + 64),
            GgmlType(39, "MXFP4", 32, 1 + 16),
            GgmlType(40, "NVFP4", 64, 4 + 32),
            GgmlType(41, "Q1_0", 128, 2 + 16),
        )
    }
)
"""ggml type id -> :class:`GgmlType`."""
