"""Build (once) and cache llama.cpp's own ``llama-server`` from the locked sdist.

The parallel-decoding benchmark compares ``genius serve`` with ``llama-server -np N``
built from exactly the llama.cpp that the locked llama-cpp-python vendors, with the
same flags as ``scripts/metal.sh`` (``-mno-amx-int8`` on x86-64: the AMX kernels
segfault on the VMs this runs on). The binary is cached under
``~/.cache/rusty-genius/llama-server/<key>/`` keyed on the sdist hash and the flags.

The sdist comes from uv's cache when uv has unpacked it there (it has, wherever the
``real`` group was ever built), else from PyPI through pip with ``--require-hashes``.

Usage: python -m benchmarks._llama_server   (prints the binary's path)
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from pathlib import Path
from typing import Final

__all__ = ["llama_server_binary"]

ROOT: Final = Path(__file__).resolve().parent.parent


def _locked() -> tuple[str, str]:
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    for package in lock["package"]:
        if package["name"] == "llama-cpp-python":
            return str(package["version"]), str(package["sdist"]["hash"])
    raise SystemExit("error: llama-cpp-python is not in uv.lock")


def _cmake_flags() -> list[str]:
    flags = ["-DLLAMA_BUILD_SERVER=ON", "-DLLAMA_CURL=OFF", "-DCMAKE_BUILD_TYPE=Release"]
    flags += ["-DBUILD_SHARED_LIBS=OFF", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF"]
    if platform.machine() == "x86_64" and platform.system() != "Darwin":
        flags += ["-DCMAKE_C_FLAGS=-mno-amx-int8", "-DCMAKE_CXX_FLAGS=-mno-amx-int8"]
    return flags


def _uv_cached_source(version: str) -> Path | None:
    try:
        out = subprocess.run(["uv", "cache", "dir"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    base = Path(out.stdout.strip())
    for candidate in sorted(base.glob(f"sdists-v*/pypi/llama-cpp-python/{version}/*/src")):
        if (candidate / "vendor/llama.cpp/tools/server").is_dir():
            return candidate / "vendor/llama.cpp"
    return None


def _downloaded_source(version: str, sdist_hash: str, into: Path) -> Path:
    requirements = into / "requirements.txt"
    requirements.write_text(f"llama-cpp-python=={version} --hash={sdist_hash}\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=:all:",
         "--require-hashes", "-r", str(requirements), "-d", str(into)],
        check=True, stdout=sys.stderr,
    )  # fmt: skip
    archive = next(into.glob("llama_cpp_python-*.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return next(into.glob("llama_cpp_python-*/vendor/llama.cpp"))


def llama_server_binary() -> Path:
    """The cached ``llama-server``, built first when it is not there (minutes)."""
    version, sdist_hash = _locked()
    flags = _cmake_flags()
    key = hashlib.sha256("\0".join([version, sdist_hash, *flags]).encode()).hexdigest()[:16]
    cache_root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rusty-genius"
    target = cache_root / "llama-server" / key
    binary = target / "llama-server"
    if binary.is_file():
        return binary
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        source = _uv_cached_source(version) or _downloaded_source(version, sdist_hash, Path(tmp))
        build = Path(tmp) / "build"
        print(f"building llama-server from {source} ({' '.join(flags)}), once", file=sys.stderr)
        subprocess.run(
            ["cmake", "-S", str(source), "-B", str(build), *flags], check=True, stdout=sys.stderr
        )
        jobs = str(os.cpu_count() or 1)
        subprocess.run(
            ["cmake", "--build", str(build), "--target", "llama-server", "-j", jobs],
            check=True, stdout=sys.stderr,
        )  # fmt: skip
        staged = Path(tmp) / "staged"
        staged.mkdir()
        built = build / "bin" / "llama-server"
        shutil.copy2(built, staged / "llama-server")
        for lib in build.glob("bin/*.so*"):  # shared ggml/llama libraries, when built shared
            shutil.copy2(lib, staged / lib.name)
        os.replace(staged, target)  # atomic: a half-built entry is never visible
    return binary


if __name__ == "__main__":
    print(llama_server_binary())
