"""Read a GGUF file's header and metadata without llama.cpp.

``genius info``, model listings and the loader want to know a model's
architecture, context length, quantization and whether it ships a chat template
before (or without) loading it. The reader walks only the header and the
key/value section (GGUF v2 and v3, either byte order) and stops where the tensor
descriptions begin: a 250 MB model costs a few megabytes of reading, most of it
the tokenizer's vocabulary, which is skipped rather than kept. Large arrays are
summarised as :class:`GgufArray` (element type and length). Blocking file I/O:
async callers hop to a thread.

Layout (all integers little-endian unless the file is big-endian)::

    magic  b"GGUF"   version u32   tensor_count u64   kv_count u64
    kv_count x (key: string, value_type: u32, value)
    string = u64 length + UTF-8 bytes
    array  = element_type u32 + u64 count + count x element
"""

from __future__ import annotations

import enum
import os
import struct
import types
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Final, TypeAlias

import attrs

from rusty_genius_core import EngineError
from rusty_genius_core._record import Record

__all__ = [
    "GGUF_FILE_TYPES",
    "GgufArray",
    "GgufInfo",
    "GgufValue",
    "GgufValueType",
    "read_gguf_info",
]

_MAGIC: Final = b"GGUF"
_SUPPORTED_VERSIONS: Final = frozenset({2, 3})
_CHUNK: Final = 1 << 20
# Caps against corrupt or hostile files; real files stay far below them.
_MAX_KEY_BYTES: Final = 1 << 16
_MAX_STRING_BYTES: Final = 16 << 20
_MAX_KV_COUNT: Final = 1 << 20
_MAX_NESTING: Final = 4
# Arrays up to this many elements are kept as tuples; longer ones become GgufArray.
_SMALL_ARRAY: Final = 64


class GgufValueType(enum.IntEnum):
    """The ``gguf_type`` codes of metadata values."""

    UINT8 = 0
    INT8 = 1
    UINT16 = 2
    INT16 = 3
    UINT32 = 4
    INT32 = 5
    FLOAT32 = 6
    BOOL = 7
    STRING = 8
    ARRAY = 9
    UINT64 = 10
    INT64 = 11
    FLOAT64 = 12


_STRUCT: Final[Mapping[GgufValueType, str]] = {
    GgufValueType.UINT8: "B",
    GgufValueType.INT8: "b",
    GgufValueType.UINT16: "H",
    GgufValueType.INT16: "h",
    GgufValueType.UINT32: "I",
    GgufValueType.INT32: "i",
    GgufValueType.FLOAT32: "f",
    GgufValueType.BOOL: "B",
    GgufValueType.UINT64: "Q",
    GgufValueType.INT64: "q",
    GgufValueType.FLOAT64: "d",
}

#: ``general.file_type`` (llama.cpp's ``llama_ftype``) to the quantization name used in file names.
GGUF_FILE_TYPES: Final[Mapping[int, str]] = types.MappingProxyType(
    {
        0: "F32",
        1: "F16",
        2: "Q4_0",
        3: "Q4_1",
        4: "Q4_1_SOME_F16",
        7: "Q8_0",
        8: "Q5_0",
        9: "Q5_1",
        10: "Q2_K",
        11: "Q3_K_S",
        12: "Q3_K_M",
        13: "Q3_K_L",
        14: "Q4_K_S",
        15: "Q4_K_M",
        16: "Q5_K_S",
        17: "Q5_K_M",
        18: "Q6_K",
        19: "IQ2_XXS",
        20: "IQ2_XS",
        21: "Q2_K_S",
        22: "IQ3_XS",
        23: "IQ3_XXS",
        24: "IQ1_S",
        25: "IQ4_NL",
        26: "IQ3_S",
        27: "IQ3_M",
        28: "IQ2_S",
        29: "IQ2_M",
        30: "IQ4_XS",
        31: "IQ1_M",
        32: "BF16",
        33: "Q4_0_4_4",
        34: "Q4_0_4_8",
        35: "Q4_0_8_8",
        36: "TQ1_0",
        37: "TQ2_0",
        38: "MXFP4_MOE",
    }
)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class GgufArray(Record):
    """A metadata array too long to keep (a tokenizer's vocabulary): its type and length."""

    element_type: GgufValueType
    length: int


GgufValue: TypeAlias = "str | int | float | bool | tuple[GgufValue, ...] | GgufArray"


@attrs.frozen(kw_only=True, repr=False, eq=False)
class GgufInfo(Record):
    """What a GGUF file says about its model, read from the header alone.

    ``metadata`` holds every key: scalars as Python values, arrays of up to 64
    elements as tuples and longer ones as :class:`GgufArray`. ``quantization``
    is ``None`` when ``general.file_type`` is missing or unknown.
    """

    path: Path
    version: int
    tensor_count: int
    architecture: str | None
    name: str | None
    context_length: int | None
    block_count: int | None
    parameter_count: int | None
    size_label: str | None
    file_type: int | None
    quantization: str | None
    chat_template: str | None
    metadata: Mapping[str, GgufValue]
    metadata_end: int

    @property
    def has_chat_template(self) -> bool:
        return bool(self.chat_template and self.chat_template.strip())


class _Cursor:
    """Sequential, chunked reads that know the file size, so truncation is caught early."""

    def __init__(self, fh: IO[bytes], path: Path, size: int) -> None:
        self._fh = fh
        self._path = path
        self._size = size
        self._buf = b""
        self._pos = 0  # index into _buf
        self._base = 0  # file offset of _buf[0]
        self.order = "<"

    @property
    def offset(self) -> int:
        return self._base + self._pos

    def fail(self, cause: str, offset: int | None = None) -> EngineError:
        at = self.offset if offset is None else offset
        return EngineError(f"{self._path}: {cause} (at byte offset {at})")

    def need(self, n: int, what: str) -> None:
        if n > self._size - self.offset:
            raise self.fail(
                f"truncated GGUF: {what} needs {n} bytes but the file ends at byte {self._size}"
            )

    def take(self, n: int, what: str) -> bytes:
        self.need(n, what)
        if self._pos + n > len(self._buf):
            rest = self._buf[self._pos :]
            self._base += self._pos
            self._fh.seek(self._base + len(rest))
            self._buf = rest + self._fh.read(max(_CHUNK, n - len(rest)))
            self._pos = 0
            if n > len(self._buf):  # the file shrank under us
                raise self.fail(f"truncated GGUF: {what} needs {n} bytes, read {len(self._buf)}")
        out = self._buf[self._pos : self._pos + n]
        self._pos += n
        return out

    def skip(self, n: int, what: str) -> None:
        self.need(n, what)
        if self._pos + n <= len(self._buf):
            self._pos += n
        else:
            self._base = self.offset + n
            self._buf = b""
            self._pos = 0

    def unpack(self, fmt: str, what: str) -> int | float:
        size = struct.calcsize(fmt)
        value: int | float = struct.unpack(self.order + fmt, self.take(size, what))[0]
        return value

    def u32(self, what: str) -> int:
        return int(self.unpack("I", what))

    def u64(self, what: str) -> int:
        return int(self.unpack("Q", what))

    def string(self, what: str, cap: int) -> str:
        start = self.offset
        length = self.u64(f"length of {what}")
        if length > cap:
            raise self.fail(f"{what} claims {length} bytes, more than the {cap}-byte cap", start)
        raw = self.take(length, what)
        return raw.decode("utf-8", errors="replace")

    def skip_strings(self, count: int, what: str) -> None:
        """Skip ``count`` strings without decoding them: the hot loop of a vocabulary.

        The fast path walks the lengths inside the buffer, one comparison per string: its
        window ends at the buffer's end and at most ``_MAX_STRING_BYTES`` past its start,
        so a string that is cut by the buffer, runs past the file or breaks the cap falls to
        the slow path, which checks the cap and the file's end as :meth:`string` does.
        """
        length_of = struct.Struct(self.order + "Q").unpack_from
        i = 0
        while i < count:
            buf, pos = self._buf, self._pos
            end = min(len(buf), pos + _MAX_STRING_BYTES)
            first = i
            try:
                for i in range(first, count):  # noqa: B007  # i is read after the loop
                    after = pos + 8 + length_of(buf, pos)[0]
                    if after > end:
                        break
                    pos = after
                else:
                    i = count
            except struct.error:  # the length itself is cut by the buffer's end
                pass
            self._pos = pos
            if i < count:  # the slow path: one string, across the buffer's end (or a bad one)
                start = self.offset
                length = self.u64(f"length of {what}[{i}]")
                if length > _MAX_STRING_BYTES:
                    raise self.fail(
                        f"{what}[{i}] claims {length} bytes, more than the "
                        f"{_MAX_STRING_BYTES}-byte cap",
                        start,
                    )
                self.skip(length, f"{what}[{i}]")
                i += 1


def _value_type(cur: _Cursor, what: str) -> GgufValueType:
    start = cur.offset
    code = cur.u32(f"type of {what}")
    try:
        return GgufValueType(code)
    except ValueError:
        raise cur.fail(f"{what} has unknown value type {code}", start) from None


def _scalar(cur: _Cursor, kind: GgufValueType, what: str) -> str | int | float | bool:
    if kind is GgufValueType.STRING:
        return cur.string(what, _MAX_STRING_BYTES)
    start = cur.offset
    value = cur.unpack(_STRUCT[kind], what)
    if kind is GgufValueType.BOOL:
        if value not in (0, 1):
            raise cur.fail(f"{what} is a bool with byte value {value}, not 0 or 1", start)
        return bool(value)
    return value


def _array(cur: _Cursor, what: str, depth: int) -> tuple[GgufValue, ...] | GgufArray:
    if depth >= _MAX_NESTING:
        raise cur.fail(f"{what} nests arrays deeper than {_MAX_NESTING} levels")
    kind = _value_type(cur, f"elements of {what}")
    count = cur.u64(f"length of {what}")
    min_size = (
        12
        if kind is GgufValueType.ARRAY
        else (8 if kind is GgufValueType.STRING else struct.calcsize(_STRUCT[kind]))
    )
    cur.need(count * min_size, f"{what} ({count} x {kind.name.lower()})")
    if count <= _SMALL_ARRAY:
        return tuple(_value(cur, kind, f"{what}[{i}]", depth + 1) for i in range(count))
    if kind is GgufValueType.STRING:
        cur.skip_strings(count, what)
    elif kind is GgufValueType.ARRAY:
        for i in range(count):
            _array(cur, f"{what}[{i}]", depth + 1)
    else:
        cur.skip(count * min_size, what)
    return GgufArray(element_type=kind, length=count)


def _value(cur: _Cursor, kind: GgufValueType, what: str, depth: int = 0) -> GgufValue:
    if kind is GgufValueType.ARRAY:
        return _array(cur, what, depth)
    return _scalar(cur, kind, what)


def _header(cur: _Cursor) -> tuple[int, int, int]:
    magic = cur.take(4, "magic")
    if magic != _MAGIC:
        raise cur.fail(f"not a GGUF file: starts with {magic!r}, expected {_MAGIC!r}", 0)
    raw_version = cur.take(4, "version")
    little, big = struct.unpack("<I", raw_version)[0], struct.unpack(">I", raw_version)[0]
    # A version is a small number: whichever reading gives one tells the byte order.
    version = little
    if little > 0xFFFF and big <= 0xFFFF:
        cur.order, version = ">", big
    if version not in _SUPPORTED_VERSIONS:
        raise cur.fail(
            f"unsupported GGUF version {version}; this reader supports versions 2 and 3", 4
        )
    tensor_count = cur.u64("tensor count")
    start = cur.offset
    kv_count = cur.u64("metadata key/value count")
    if kv_count > _MAX_KV_COUNT:
        raise cur.fail(f"claims {kv_count} metadata keys, more than the cap {_MAX_KV_COUNT}", start)
    return version, tensor_count, kv_count


def _str(metadata: Mapping[str, GgufValue], key: str) -> str | None:
    value = metadata.get(key)
    return value if isinstance(value, str) else None


def _int(metadata: Mapping[str, GgufValue], key: str) -> int | None:
    value = metadata.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_gguf_info(path: str | os.PathLike[str]) -> GgufInfo:
    """Read the header and metadata of the GGUF at ``path``.

    Raises :class:`EngineError` naming the path and the byte offset when the
    file cannot be read, is not a GGUF, has an unsupported version, or ends
    (or breaks) inside the metadata.
    """
    path = Path(path)
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise EngineError(f"{path}: cannot open GGUF: {exc.strerror or exc}") from exc
    with fh:
        try:
            size = os.fstat(fh.fileno()).st_size
            cur = _Cursor(fh, path, size)
            version, tensor_count, kv_count = _header(cur)
            metadata: dict[str, GgufValue] = {}
            for i in range(kv_count):
                start = cur.offset
                key = cur.string(f"key #{i}", _MAX_KEY_BYTES)
                if not key:
                    raise cur.fail(f"key #{i} is empty", start)
                if key in metadata:
                    raise cur.fail(f"duplicate metadata key {key!r}", start)
                metadata[key] = _value(cur, _value_type(cur, key), key)
        except OSError as exc:
            raise EngineError(f"{path}: cannot read GGUF: {exc.strerror or exc}") from exc
    return _info(path, version, tensor_count, metadata, cur.offset)


def _info(
    path: Path, version: int, tensor_count: int, metadata: dict[str, GgufValue], end: int
) -> GgufInfo:
    arch = _str(metadata, "general.architecture")
    file_type = _int(metadata, "general.file_type")
    return GgufInfo(
        path=path,
        version=version,
        tensor_count=tensor_count,
        architecture=arch,
        name=_str(metadata, "general.name"),
        context_length=None if arch is None else _int(metadata, f"{arch}.context_length"),
        block_count=None if arch is None else _int(metadata, f"{arch}.block_count"),
        parameter_count=_int(metadata, "general.parameter_count"),
        size_label=_str(metadata, "general.size_label"),
        file_type=file_type,
        quantization=None if file_type is None else GGUF_FILE_TYPES.get(file_type),
        chat_template=_str(metadata, "tokenizer.chat_template"),
        metadata=types.MappingProxyType(metadata),
        metadata_end=end,
    )
