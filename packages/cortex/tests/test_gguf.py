"""The GGUF metadata reader, against the real test models and hand-built files."""

from __future__ import annotations

import math
import struct
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rusty_genius_core import EngineError, GeniusError
from rusty_genius_cortex._gguf import (
    GGUF_FILE_TYPES,
    GgufArray,
    GgufValueType,
    read_gguf_info,
)

if TYPE_CHECKING:
    from pathlib import Path

T = GgufValueType
_FORMATS = {
    T.UINT8: "B",
    T.INT8: "b",
    T.UINT16: "H",
    T.INT16: "h",
    T.UINT32: "I",
    T.INT32: "i",
    T.FLOAT32: "f",
    T.BOOL: "?",
    T.UINT64: "Q",
    T.INT64: "q",
    T.FLOAT64: "d",
}


# A minimal GGUF writer, written from the format description rather than the reader's code.
def _string(text: str | bytes, order: str) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack(order + "Q", len(raw)) + raw


def _payload(kind: T, value: Any, order: str) -> bytes:
    if kind is T.STRING:
        return _string(value, order)
    if kind is T.ARRAY:
        element, items = value
        body = b"".join(_payload(element, item, order) for item in items)
        return struct.pack(order + "IQ", element, len(items)) + body
    return struct.pack(order + _FORMATS[kind], value)


def gguf_bytes(
    entries: list[tuple[str, T, Any]],
    *,
    version: int = 3,
    tensor_count: int = 0,
    order: str = "<",
) -> bytes:
    out = [b"GGUF", struct.pack(order + "IQQ", version, tensor_count, len(entries))]
    for key, kind, value in entries:
        out.append(
            _string(key, order) + struct.pack(order + "I", kind) + _payload(kind, value, order)
        )
    return b"".join(out)


def _write(tmp_path: Path, data: bytes, name: str = "model.gguf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- the real models ---------------------------------------------------------------------------


def test_smollm2_metadata(test_models: dict[str, Path]) -> None:
    info = read_gguf_info(test_models["smollm2"])
    assert info.version == 3
    assert info.architecture == "llama"
    assert info.file_type == 3
    assert info.quantization == "Q4_1"
    assert info.context_length == 8192
    assert info.block_count == 30
    assert info.size_label == "135M"
    assert info.has_chat_template
    assert info.chat_template is not None
    assert "<|im_start|>" in info.chat_template
    tokens = info.metadata["tokenizer.ggml.tokens"]
    assert tokens == GgufArray(element_type=T.STRING, length=49152)
    assert info.metadata["llama.vocab_size"] == tokens.length
    assert info.tensor_count == 272


def test_gemma3_metadata(test_models: dict[str, Path]) -> None:
    info = read_gguf_info(test_models["gemma3"])
    assert info.architecture == "gemma3"
    assert info.quantization == "Q4_K_M"
    assert info.file_type == 15
    assert info.context_length == 32768
    assert info.block_count == 18
    assert info.chat_template is None
    assert not info.has_chat_template
    assert info.metadata["tokenizer.ggml.scores"] == GgufArray(
        element_type=T.FLOAT32, length=262144
    )
    assert info.metadata["general.tags"] == ("gemma3", "gemma", "google", "text-generation")


@pytest.mark.parametrize("model", ["smollm2", "gemma3"])
def test_reading_stops_where_the_tensor_descriptions_begin(
    test_models: dict[str, Path], model: str
) -> None:
    path = test_models[model]
    info = read_gguf_info(path)
    with path.open("rb") as fh:
        fh.seek(info.metadata_end)
        (length,) = struct.unpack("<Q", fh.read(8))
        first_tensor = fh.read(length).decode("ascii")
    assert first_tensor.endswith(".weight")
    assert info.metadata_end < path.stat().st_size // 10


# --- broken files --------------------------------------------------------------------------------


def test_truncated_copies_fail_naming_path_and_offset(
    test_models: dict[str, Path], tmp_path: Path
) -> None:
    source = test_models["smollm2"]
    end = read_gguf_info(source).metadata_end
    with source.open("rb") as fh:
        head = fh.read(end)
    # Inside: the magic, the version, the counts, the first key, the vocabulary, the last byte.
    for cut in (0, 2, 6, 20, 30, 60, end // 2, end - 1):
        path = _write(tmp_path, head[:cut], f"cut-{cut}.gguf")
        with pytest.raises(EngineError, match="truncated GGUF") as caught:
            read_gguf_info(path)
        assert str(path) in caught.value.message
        assert "byte offset" in caught.value.message
    read_gguf_info(_write(tmp_path, head, "whole-metadata.gguf"))  # exactly the metadata is enough


def test_a_non_gguf_file_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, b"PK\x03\x04" + bytes(100), "model.zip")
    with pytest.raises(
        EngineError, match=r"not a GGUF file: starts with b'PK\\x03\\x04'"
    ) as caught:
        read_gguf_info(path)
    assert str(path) in caught.value.message
    assert isinstance(caught.value, GeniusError)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="cannot open GGUF"):
        read_gguf_info(tmp_path / "absent.gguf")


@pytest.mark.parametrize("version", [1, 4, 0])
def test_unsupported_versions(tmp_path: Path, version: int) -> None:
    path = _write(tmp_path, gguf_bytes([], version=version))
    with pytest.raises(EngineError, match=f"unsupported GGUF version {version}"):
        read_gguf_info(path)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (gguf_bytes([("a", T.UINT8, 1), ("a", T.UINT8, 2)]), "duplicate metadata key 'a'"),
        (gguf_bytes([("", T.UINT8, 1)]), "key #0 is empty"),
        (
            b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + _string("k", "<") + struct.pack("<I", 99),
            "k has unknown value type 99",
        ),
        (
            b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + _string("k", "<") + struct.pack("<IB", 7, 2),
            "k is a bool with byte value 2",
        ),
        (
            b"GGUF"
            + struct.pack("<IQQ", 3, 0, 1)
            + _string("k", "<")
            + struct.pack("<IQ", 8, 1 << 40),
            "k claims 1099511627776 bytes, more than the",
        ),
        (
            b"GGUF"
            + struct.pack("<IQQ", 3, 0, 1)
            + _string("k", "<")
            + struct.pack("<IIQ", 9, 5, 1 << 50),
            r"truncated GGUF: k \(1125899906842624 x int32\)",
        ),
        (b"GGUF" + struct.pack("<IQQ", 3, 0, 1 << 40), "metadata keys, more than the cap"),
        (
            gguf_bytes(
                [("k", T.ARRAY, (T.ARRAY, [(T.ARRAY, [(T.ARRAY, [(T.ARRAY, [(T.ARRAY, [])])])])]))]
            ),
            "nests arrays deeper than 4 levels",
        ),
    ],
    ids=[
        "duplicate",
        "empty-key",
        "bad-type",
        "bad-bool",
        "string-cap",
        "huge-array",
        "kv-cap",
        "nesting",
    ],
)
def test_corrupt_metadata(tmp_path: Path, data: bytes, message: str) -> None:
    path = _write(tmp_path, data)
    with pytest.raises(EngineError, match=message) as caught:
        read_gguf_info(path)
    assert str(path) in caught.value.message


# --- hand-built files ----------------------------------------------------------------------------


@pytest.mark.parametrize("order", ["<", ">"])
def test_summary_fields_from_a_built_file(tmp_path: Path, order: str) -> None:
    entries = [
        ("general.architecture", T.STRING, "qwen2"),
        ("general.name", T.STRING, "Tiny"),
        ("general.file_type", T.UINT32, 15),
        ("general.parameter_count", T.UINT64, 1_543_714_304),
        ("qwen2.context_length", T.UINT32, 32768),
        ("qwen2.block_count", T.UINT32, 28),
        ("tokenizer.chat_template", T.STRING, "{{ messages }}"),
        ("tokenizer.ggml.tokens", T.ARRAY, (T.STRING, [f"t{i}" for i in range(1000)])),
        ("tokenizer.ggml.scores", T.ARRAY, (T.FLOAT32, [0.5] * 65)),
        ("small", T.ARRAY, (T.INT32, [1, -2, 3])),
        ("nested", T.ARRAY, (T.ARRAY, [(T.INT8, [1, 2]), (T.STRING, ["x"])])),
    ]
    info = read_gguf_info(_write(tmp_path, gguf_bytes(entries, tensor_count=7, order=order)))
    assert info.architecture == "qwen2"
    assert info.name == "Tiny"
    assert (info.file_type, info.quantization) == (15, "Q4_K_M")
    assert info.parameter_count == 1_543_714_304
    assert (info.context_length, info.block_count, info.tensor_count) == (32768, 28, 7)
    assert info.has_chat_template
    assert info.metadata["tokenizer.ggml.tokens"] == GgufArray(element_type=T.STRING, length=1000)
    assert info.metadata["tokenizer.ggml.scores"] == GgufArray(element_type=T.FLOAT32, length=65)
    assert info.metadata["small"] == (1, -2, 3)
    assert info.metadata["nested"] == ((1, 2), ("x",))


@pytest.mark.parametrize("shift", range(9))
@pytest.mark.parametrize("order", ["<", ">"])
def test_long_string_arrays_across_read_chunks(tmp_path: Path, order: str, shift: int) -> None:
    """A vocabulary of ~3 MB is skipped across the reader's 1 MiB reads, wherever a string's
    length or body is cut by a read (``shift`` moves every cut by a byte), to the key after it."""
    words = [chr(0x41 + i % 26) * (i % 301) for i in range(20_000)]
    entries = [
        ("pad", T.STRING, "p" * shift),
        ("tokenizer.ggml.tokens", T.ARRAY, (T.STRING, words)),
        ("tokenizer.ggml.merges", T.ARRAY, (T.STRING, ["a b"] * 65)),
        ("after", T.UINT32, 7),
    ]
    path = _write(tmp_path, gguf_bytes(entries, order=order))
    info = read_gguf_info(path)
    assert info.metadata["tokenizer.ggml.tokens"] == GgufArray(element_type=T.STRING, length=20_000)
    assert info.metadata["after"] == 7
    assert info.metadata_end == path.stat().st_size > 3_000_000


def test_a_long_string_array_keeps_the_string_cap_and_the_file_end(tmp_path: Path) -> None:
    head = (
        b"GGUF"
        + struct.pack("<IQQ", 3, 0, 1)
        + _string("vocab", "<")
        + struct.pack("<IIQ", 9, 8, 100)
    )
    strings = b"".join(_string(f"w{i}", "<") for i in range(70))
    over_cap = head + strings + struct.pack("<Q", (16 << 20) + 1) + bytes(30 * 8)
    with pytest.raises(EngineError, match=r"vocab\[70\] claims 16777217 bytes, more than the"):
        read_gguf_info(_write(tmp_path, over_cap, "over-cap.gguf"))
    past_end = head + strings + _string("x" * 1000, "<")[:500] + bytes(30 * 8)
    with pytest.raises(EngineError, match=r"truncated GGUF: vocab\[70\] needs 1000 bytes"):
        read_gguf_info(_write(tmp_path, past_end, "past-end.gguf"))


def test_unknown_file_type_and_missing_fields(tmp_path: Path) -> None:
    info = read_gguf_info(_write(tmp_path, gguf_bytes([("general.file_type", T.UINT32, 999)])))
    assert (info.file_type, info.quantization) == (999, None)
    assert info.architecture is None
    assert info.context_length is None
    assert not info.has_chat_template
    blank = gguf_bytes([("tokenizer.chat_template", T.STRING, "  ")])
    assert not read_gguf_info(_write(tmp_path, blank, "blank.gguf")).has_chat_template


def test_metadata_is_read_only(tmp_path: Path) -> None:
    info = read_gguf_info(_write(tmp_path, gguf_bytes([("a", T.UINT8, 1)])))
    with pytest.raises(TypeError):
        info.metadata["a"] = 2  # type: ignore[index]


def test_file_type_names_match_file_name_quantizations() -> None:
    assert GGUF_FILE_TYPES[3] == "Q4_1"
    assert GGUF_FILE_TYPES[15] == "Q4_K_M"
    assert GGUF_FILE_TYPES[7] == "Q8_0"
    assert all(name == name.upper() for name in GGUF_FILE_TYPES.values())


_RANGES: dict[T, st.SearchStrategy[Any]] = {
    T.UINT8: st.integers(0, 2**8 - 1),
    T.INT8: st.integers(-(2**7), 2**7 - 1),
    T.UINT16: st.integers(0, 2**16 - 1),
    T.INT16: st.integers(-(2**15), 2**15 - 1),
    T.UINT32: st.integers(0, 2**32 - 1),
    T.INT32: st.integers(-(2**31), 2**31 - 1),
    T.UINT64: st.integers(0, 2**64 - 1),
    T.INT64: st.integers(-(2**63), 2**63 - 1),
    T.FLOAT32: st.floats(width=32),
    T.FLOAT64: st.floats(),
    T.BOOL: st.booleans(),
    T.STRING: st.text(max_size=40),
}


@st.composite
def _entries(draw: st.DrawFn) -> list[tuple[str, T, Any]]:
    keys = draw(st.lists(st.text(min_size=1, max_size=20), unique=True, max_size=8))
    entries: list[tuple[str, T, Any]] = []
    for key in keys:
        kind = draw(st.sampled_from(sorted(_RANGES)))
        if draw(st.booleans()):
            entries.append((key, T.ARRAY, (kind, draw(st.lists(_RANGES[kind], max_size=5)))))
        else:
            entries.append((key, kind, draw(_RANGES[kind])))
    return entries


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(entries=_entries(), order=st.sampled_from(["<", ">"]), version=st.sampled_from([2, 3]))
def test_values_round_trip(
    tmp_path: Path, entries: list[tuple[str, T, Any]], order: str, version: int
) -> None:
    path = _write(tmp_path, gguf_bytes(entries, order=order, version=version))
    info = read_gguf_info(path)
    assert info.version == version
    assert list(info.metadata) == [key for key, _, _ in entries]
    for key, kind, value in entries:
        expected = tuple(value[1]) if kind is T.ARRAY else value
        assert _same(info.metadata[key], expected), (key, info.metadata[key], expected)
    assert info.metadata_end == path.stat().st_size


# --- cross-check with llama.cpp's own reader -----------------------------------------------------


def _as_llama_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value)


@pytest.mark.real
@pytest.mark.parametrize("model", ["smollm2", "gemma3"])
def test_scalars_agree_with_llama_cpp(
    test_models: dict[str, Path], llama_cpp_module: Any, model: str
) -> None:
    path = test_models[model]
    llama = llama_cpp_module.Llama(str(path), vocab_only=True, verbose=False)
    try:
        theirs = dict(llama.metadata)
    finally:
        llama.close()
    ours = read_gguf_info(path).metadata
    assert theirs, "llama.cpp reported no metadata"
    for key, value in theirs.items():
        assert _as_llama_string(ours[key]) == value, key
    # llama.cpp leaves arrays out; everything else it reports, we report too.
    scalars = {k for k, v in ours.items() if not isinstance(v, tuple | GgufArray)}
    assert scalars == set(theirs)
