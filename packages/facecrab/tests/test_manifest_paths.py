"""The embedded models.toml, the user's manifest over it, directories, and the exports."""

from __future__ import annotations

import types
from typing import TYPE_CHECKING

import platformdirs
import pytest

import facecrab
from facecrab import DEFAULT_MODEL, GeniusPaths, embedded_manifest, load_manifest
from rusty_genius_core import ManifestError, Purpose

if TYPE_CHECKING:
    from pathlib import Path


def test_embedded_manifest_has_the_promised_models() -> None:
    manifest = embedded_manifest()
    assert manifest.defaults.quantization == "Q4_K_M"
    assert manifest.defaults.revision == "main"
    expected = {
        "qwen-2.5-1.5b-instruct": (
            "Qwen/Qwen2.5-1.5B-Instruct-GGUF",
            "qwen2.5-1.5b-instruct-q4_k_m.gguf",
        ),
        "qwen-2.5-3b-instruct": (
            "Qwen/Qwen2.5-3B-Instruct-GGUF",
            "qwen2.5-3b-instruct-q4_k_m.gguf",
        ),
        "qwen-2.5-0.5b-instruct": (
            "Qwen/Qwen2.5-0.5B-Instruct-GGUF",
            "qwen2.5-0.5b-instruct-q4_k_m.gguf",
        ),
        "smollm2-135m-instruct": (
            "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF",
            "SmolLM2-135M-Instruct.Q4_1.gguf",
        ),
        "gemma-3-270m": ("ggml-org/gemma-3-270m-GGUF", "gemma-3-270m-q4_k_m.gguf"),
    }
    for alias, (repo, filename) in expected.items():
        entry = manifest.entry(alias)
        assert entry is not None, alias
        assert (entry.repo, entry.filename) == (repo, filename)
    smol = manifest.entry("smollm2-135m-instruct")
    gemma = manifest.entry("gemma-3-270m")
    assert smol is not None
    assert gemma is not None
    assert (smol.quantization, smol.size, smol.sha256) == (
        "Q4_1",
        98_362_432,
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    )
    assert (gemma.purpose, gemma.size) == (Purpose.COMPLETION, 253_113_024)
    assert DEFAULT_MODEL in manifest.models


def test_user_manifest_merges_over_the_embedded_one(tmp_path: Path) -> None:
    user = tmp_path / "manifest.toml"
    user.write_text(
        '[defaults]\nquantization = "Q8_0"\n\n'
        '[models."qwen-2.5-1.5b-instruct"]\nquantization = "Q5_K_M"\n\n'
        '[models.mine]\nrepo = "me/mine-GGUF"\n'
    )
    merged = load_manifest(user)
    qwen = merged.entry("qwen-2.5-1.5b-instruct")
    mine = merged.entry("mine")
    assert qwen is not None
    assert mine is not None
    assert (qwen.quantization, qwen.filename) == ("Q5_K_M", None)  # the q4_k_m file does not leak
    assert mine.quantization == "Q8_0"
    assert load_manifest(tmp_path / "absent.toml") == embedded_manifest()


def test_broken_user_manifest_names_file_and_line(tmp_path: Path) -> None:
    user = tmp_path / "manifest.toml"
    user.write_text('[models.x]\nrepo = "a/b"\nrepo = "c/d"\n')
    with pytest.raises(ManifestError, match=r"manifest\.toml: invalid TOML at line 3"):
        load_manifest(user)


def test_user_manifest_broken_at_its_end_names_the_last_line_and_column(tmp_path: Path) -> None:
    user = tmp_path / "manifest.toml"
    user.write_text('[models.x]\nrepo = "a/b"\nfilename = [\n  "x.gguf",\n')
    with pytest.raises(ManifestError, match=r"manifest\.toml: invalid TOML at line 5, column 1: "):
        load_manifest(user)


def test_paths_from_platformdirs_env_and_arguments(tmp_path: Path) -> None:
    default = GeniusPaths.from_env(environ={})
    assert default.home == platformdirs.user_config_path("rusty-genius").absolute()
    assert default.cache == (platformdirs.user_cache_path("rusty-genius") / "models").absolute()
    env = {"GENIUS_HOME": str(tmp_path / "h"), "GENIUS_CACHE": str(tmp_path / "c")}
    from_env = GeniusPaths.from_env(environ=env)
    assert (from_env.home, from_env.cache) == (tmp_path / "h", tmp_path / "c")
    explicit = GeniusPaths.from_env(home=tmp_path / "H", environ=env)
    assert (explicit.home, explicit.cache) == (tmp_path / "H", tmp_path / "c")
    assert explicit.registry_file == tmp_path / "H" / "registry.toml"
    assert explicit.manifest_file == tmp_path / "H" / "manifest.toml"
    assert (
        explicit.model_file("org/name", "sub/f.gguf")
        == tmp_path / "c" / "org" / "name" / "sub" / "f.gguf"
    )


def test_exports_are_complete_and_sorted() -> None:
    public = {
        name
        for name, value in vars(facecrab).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    } - {"annotations"}  # from __future__
    assert set(facecrab.__all__) == public
    assert len(facecrab.__all__) == len(public)
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions, each alphabetical
    key = [(0 if n.isupper() else 1 if n[0].isupper() else 2, n) for n in facecrab.__all__]
    assert key == sorted(key)
