"""Choosing the GGUF: whole-token quantization match, split parts, alternatives."""

from __future__ import annotations

import pytest

from facecrab import (
    AmbiguousQuantizationError,
    IntegrityError,
    ModelNotFoundError,
    QuantizationNotFoundError,
    RemoteFile,
    Wanted,
    embedded_manifest,
    quantization_of,
    select_gguf,
)
from facecrab._resolve import wanted
from rusty_genius_core import ManifestError, Purpose, UserManifest


def listing(*names: str) -> list[RemoteFile]:
    return [RemoteFile(filename=n, size=len(n), sha256=f"{i:064x}") for i, n in enumerate(names)]


def want(quant: str, filename: str | None = None, sha256: str | None = None) -> Wanted:
    return Wanted(
        name="x",
        repo="org/x-GGUF",
        quantization=quant,
        revision="main",
        filename=filename,
        sha256=sha256,
    )


QWEN = listing(
    "README.md",
    "qwen2.5-1.5b-instruct-q4_k_m.gguf",
    "qwen2.5-1.5b-instruct-q4_k.gguf",
    "qwen2.5-1.5b-instruct-q4_0.gguf",
    "qwen2.5-1.5b-instruct-q8_0.gguf",
    "qwen2.5-1.5b-instruct-fp16-00001-of-00002.gguf",
    "qwen2.5-1.5b-instruct-fp16-00002-of-00002.gguf",
    "mmproj-qwen-q8_0.gguf",
)


@pytest.mark.parametrize(
    ("quant", "expected"),
    [
        ("Q4_K_M", "qwen2.5-1.5b-instruct-q4_k_m.gguf"),
        ("Q4_K", "qwen2.5-1.5b-instruct-q4_k.gguf"),  # not q4_k_m: whole tokens only
        ("Q4_0", "qwen2.5-1.5b-instruct-q4_0.gguf"),
        ("Q8_0", "qwen2.5-1.5b-instruct-q8_0.gguf"),  # the mmproj file is never the model
    ],
)
def test_quantization_matches_whole_tokens_ignoring_case(quant: str, expected: str) -> None:
    resolution = select_gguf(want(quant), QWEN)
    assert resolution.spec.filename == expected
    assert resolution.spec.quantization == quant
    assert [f.filename for f in resolution.files] == [expected]
    assert resolution.spec.sha256 == next(f.sha256 for f in QWEN if f.filename == expected)


def test_split_gguf_resolves_to_every_part_in_order() -> None:
    resolution = select_gguf(want("FP16"), QWEN)
    assert [f.filename for f in resolution.files] == [
        "qwen2.5-1.5b-instruct-fp16-00001-of-00002.gguf",
        "qwen2.5-1.5b-instruct-fp16-00002-of-00002.gguf",
    ]
    assert resolution.spec.filename == resolution.files[0].filename


def test_missing_split_part_is_reported() -> None:
    with pytest.raises(QuantizationNotFoundError, match=r"has 3 parts but .*00003-of-00003"):
        select_gguf(want("F16"), listing("m-F16-00001-of-00003.gguf", "m-F16-00002-of-00003.gguf"))


def test_missing_quantization_lists_the_available_ones() -> None:
    with pytest.raises(QuantizationNotFoundError) as err:
        select_gguf(want("IQ2_XXS"), QWEN)
    assert err.value.alternatives == ("FP16", "Q4_0", "Q4_K", "Q4_K_M", "Q8_0")
    assert "org/x-GGUF has no GGUF for quantization IQ2_XXS" in str(err.value)


def test_repo_without_gguf_says_so() -> None:
    with pytest.raises(QuantizationNotFoundError, match="no GGUF files at all"):
        select_gguf(want("Q4_K_M"), listing("README.md", "model.safetensors"))


def test_ambiguous_quantization_lists_candidates() -> None:
    files = listing("a/m-Q4_K_M.gguf", "b/m-Q4_K_M.gguf")
    with pytest.raises(AmbiguousQuantizationError) as err:
        select_gguf(want("Q4_K_M"), files)
    assert err.value.alternatives == ("a/m-Q4_K_M.gguf", "b/m-Q4_K_M.gguf")


def test_pinned_filename_must_exist_and_match_the_pinned_sha() -> None:
    pinned = select_gguf(want("Q4_K_M", filename="qwen2.5-1.5b-instruct-q4_k_m.gguf"), QWEN)
    assert pinned.spec.filename == "qwen2.5-1.5b-instruct-q4_k_m.gguf"
    with pytest.raises(QuantizationNotFoundError, match=r"has no file 'nope\.gguf'"):
        select_gguf(want("Q4_K_M", filename="nope.gguf"), QWEN)
    with pytest.raises(IntegrityError, match="the manifest pins"):
        select_gguf(
            want("Q4_K_M", filename="qwen2.5-1.5b-instruct-q4_k_m.gguf", sha256="e" * 64), QWEN
        )


@pytest.mark.parametrize(
    ("filename", "quant"),
    [
        ("qwen2.5-1.5b-instruct-q4_k_m.gguf", "Q4_K_M"),
        ("SmolLM2-135M-Instruct.Q4_1.gguf", "Q4_1"),
        ("gemma-3-270m-it-IQ2_XXS.gguf", "IQ2_XXS"),
        ("Llama-3-8B.f16-00001-of-00004.gguf", "F16"),
        ("model.bf16.gguf", "BF16"),
        ("model.gguf", None),
    ],
)
def test_quantization_of(filename: str, quant: str | None) -> None:
    assert quantization_of(filename) == quant


def test_references_are_filled_in_from_the_manifest() -> None:
    manifest = embedded_manifest()
    alias = wanted("gemma-3-270m", manifest)
    assert (alias.repo, alias.filename, alias.purpose) == (
        "ggml-org/gemma-3-270m-GGUF",
        "gemma-3-270m-q4_k_m.gguf",
        Purpose.COMPLETION,
    )
    assert alias.complete
    by_repo = wanted("ggml-org/gemma-3-270m-GGUF:q4_k_m", manifest)
    assert (by_repo.name, by_repo.filename, by_repo.sha256) == (
        "ggml-org/gemma-3-270m-GGUF:Q4_K_M",
        alias.filename,
        alias.sha256,
    )
    other_quant = wanted("ggml-org/gemma-3-270m-GGUF:Q8_0", manifest)
    assert (other_quant.filename, other_quant.sha256, other_quant.quantization) == (
        None,
        None,
        "Q8_0",
    )
    default_quant = wanted("someone/else-GGUF", manifest)
    assert (default_quant.quantization, default_quant.revision) == ("Q4_K_M", "main")
    qwen = wanted("qwen-2.5-1.5b-instruct", manifest)
    assert not qwen.complete  # no sha256 pinned: the tree supplies it
    with pytest.raises(ModelNotFoundError):
        wanted("nothing-like-this", manifest)
    with pytest.raises(ManifestError):
        wanted("org/repo:bad quant", manifest)


def test_an_alias_without_repo_is_a_manifest_error() -> None:
    manifest = UserManifest.from_dict({"models": {"orphan": {"quantization": "Q8_0"}}})
    with pytest.raises(ManifestError, match="names no repo"):
        wanted("orphan", manifest)
