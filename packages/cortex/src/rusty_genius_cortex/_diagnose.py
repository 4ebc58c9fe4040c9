"""Why llama.cpp refused a GGUF whose metadata reads fine: look at the tensor section.

llama.cpp reports a broken file as "Failed to load model from file" and prints
the reason to stderr, where a caller cannot see it. After a failed load we walk
the tensor descriptions that follow the metadata and compare where the tensor
data must end with the file's size, which names the common cause (a truncated
download) precisely. Only consulted after a failure; never on the happy path.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import TYPE_CHECKING, Final

from ._ggml_types import GGML_TYPES

if TYPE_CHECKING:
    import os

__all__ = ["tensor_data_problem"]

_MAX_DIMS: Final = 8


class _Short(Exception):
    pass


def tensor_data_problem(
    path: str | os.PathLike[str], metadata_end: int, tensor_count: int, alignment: int = 32
) -> str | None:
    """Describe a truncated tensor section of the little-endian GGUF at ``path``, or ``None``.

    ``metadata_end`` is where the tensor descriptions begin (the metadata
    reader's ``metadata_end``). ``None`` means no problem was found here.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            fh.seek(metadata_end)
            data = fh.read(min(size - metadata_end, 64 << 20))
    except OSError as exc:
        return f"cannot read the tensor descriptions: {exc.strerror or exc}"
    pos = 0

    def take(fmt: str) -> tuple[int, ...]:
        nonlocal pos
        n = struct.calcsize("<" + fmt)
        if pos + n > len(data):
            raise _Short
        out = struct.unpack_from("<" + fmt, data, pos)
        pos += n
        return out

    need = 0
    try:
        for _ in range(tensor_count):
            (name_len,) = take("Q")
            if pos + name_len > len(data):
                raise _Short
            name = data[pos : pos + name_len].decode("utf-8", errors="replace")
            pos += name_len
            (n_dims,) = take("I")
            if n_dims > _MAX_DIMS:
                return f"tensor {name!r} claims {n_dims} dimensions"
            elements = 1
            for dim in take("Q" * n_dims):
                elements *= dim
            ggml_type, offset = take("IQ")
            kind = GGML_TYPES.get(ggml_type)
            length = 1 if kind is None else kind.nbytes(elements)  # unknown: at least a byte
            need = max(need, offset + length)
    except _Short:
        return (
            f"truncated GGUF: the descriptions of {tensor_count} tensors run past the end "
            f"of the file ({size} bytes)"
        )
    start = metadata_end + pos
    start += -start % max(1, alignment)
    if start + need > size:
        return (
            f"truncated GGUF: the tensor data needs {start + need} bytes but the file has "
            f"{size} (an interrupted download?)"
        )
    return None
