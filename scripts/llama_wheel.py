"""Build (once) and cache the llama-cpp-python wheel that uv.lock pins, per native backend.

uv's own cache does not key built wheels on ``CMAKE_ARGS``, and it rebuilds from
source whenever it refetches the sdist, which costs minutes on a small machine.
This keeps one wheel per (version, backend, CMAKE_ARGS) under
``$GENIUS_WHEEL_CACHE`` (default ``~/.cache/rusty-genius/wheels``), built by pip from
the sdist whose sha256 the lock records (``--require-hashes``), and prints its path.

Usage: python scripts/llama_wheel.py BACKEND_ARGS   (the CMAKE_ARGS for the build; may be "")
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def locked_sdist() -> tuple[str, str]:
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    for package in lock["package"]:
        if package["name"] == "llama-cpp-python":
            sdist = package.get("sdist")
            if not sdist or "hash" not in sdist:
                sys.exit("error: uv.lock has no sdist hash for llama-cpp-python")
            return str(package["version"]), str(sdist["hash"])
    sys.exit("error: llama-cpp-python is not in uv.lock (is the 'real' group locked?)")


def main() -> None:
    cmake_args = sys.argv[1] if len(sys.argv) > 1 else ""
    version, sdist_hash = locked_sdist()
    key = hashlib.sha256(f"{version}\0{sdist_hash}\0{cmake_args}".encode()).hexdigest()[:16]
    default_cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rusty-genius"
    cache = Path(os.environ.get("GENIUS_WHEEL_CACHE", default_cache / "wheels")) / key
    wheels = sorted(cache.glob("llama_cpp_python-*.whl"))
    if wheels:
        print(wheels[-1])
        return
    cache.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache.parent) as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text(f"llama-cpp-python=={version} --hash={sdist_hash}\n")
        build = Path(tmp) / "out"
        env = {**os.environ, "CMAKE_ARGS": cmake_args}
        print(
            f"building llama-cpp-python {version} (CMAKE_ARGS={cmake_args!r}), once",
            file=sys.stderr,
        )
        pip = (
            [sys.executable, "-m", "pip"] if shutil.which("pip") and _has_pip() else ["uvx", "pip"]
        )
        subprocess.run(
            # --no-cache-dir: pip's wheel cache keys on the sdist, not on CMAKE_ARGS, and
            # would hand back a build for another backend.
            [*pip, "wheel", "--no-deps", "--no-cache-dir", "--no-binary=llama-cpp-python",
             "--require-hashes",
             "-r", str(requirements), "-w", str(build)],
            check=True, env=env, stdout=sys.stderr,
        )  # fmt: skip
        built = sorted(build.glob("llama_cpp_python-*.whl"))
        if not built:
            sys.exit("error: pip built no llama-cpp-python wheel")
        staged = Path(tmp) / key
        staged.mkdir()
        shutil.move(str(built[-1]), staged / built[-1].name)
        os.replace(staged, cache)  # atomic: a half-built cache entry is never visible
    print(sorted(cache.glob("llama_cpp_python-*.whl"))[-1])


def _has_pip() -> bool:
    import importlib.util

    return importlib.util.find_spec("pip") is not None


if __name__ == "__main__":
    main()
