"""Build (once) and cache the llama-cpp-python wheel that uv.lock pins, per native backend.

uv's own cache does not key built wheels on ``CMAKE_ARGS``, and it rebuilds from
source whenever it refetches the sdist, which costs minutes on a small machine.
This keeps one wheel per (version, backend, CMAKE_ARGS) under
``$GENIUS_WHEEL_CACHE`` (default ``~/.cache/rusty-genius/wheels``), built by pip from
the sdist whose sha256 the lock records (``--require-hashes``), and prints its path.

The first build takes a few minutes (llama.cpp is compiled); it says so up front and
shows the compiler's progress (``[ 42%] Building ...``) on one line of stderr.

Usage: python scripts/llama_wheel.py [--backend NAME] BACKEND_ARGS
(BACKEND_ARGS: the CMAKE_ARGS for the build, may be ""; NAME only labels the messages)
"""

from __future__ import annotations

import collections
import hashlib
import os
import re
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
    args = sys.argv[1:]
    label = "llama.cpp"
    if args[:1] == ["--backend"] and len(args) >= 2:
        label, args = f"llama.cpp for {args[1]}", args[2:]
    cmake_args = args[0] if args else ""
    version, sdist_hash = locked_sdist()
    key = hashlib.sha256(f"{version}\0{sdist_hash}\0{cmake_args}".encode()).hexdigest()[:16]
    default_cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rusty-genius"
    cache = Path(os.environ.get("GENIUS_WHEEL_CACHE", default_cache / "wheels")) / key
    wheels = sorted(cache.glob("llama_cpp_python-*.whl"))
    if wheels:
        print(wheels[-1])
        return
    cache.parent.mkdir(parents=True, exist_ok=True)
    print(
        f"== building the real engine, {label} (llama-cpp-python {version}): this first build "
        f"takes a few minutes; later runs reuse {cache.parent}",
        file=sys.stderr,
        flush=True,
    )
    with tempfile.TemporaryDirectory(dir=cache.parent) as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text(f"llama-cpp-python=={version} --hash={sdist_hash}\n")
        build = Path(tmp) / "out"
        env = {**os.environ, "CMAKE_ARGS": cmake_args}
        pip = (
            [sys.executable, "-m", "pip"] if shutil.which("pip") and _has_pip() else ["uvx", "pip"]
        )
        _build(
            # --no-cache-dir: pip's wheel cache keys on the sdist, not on CMAKE_ARGS, and
            # would hand back a build for another backend. -v: the compiler's progress.
            [*pip, "wheel", "-v", "--no-deps", "--no-cache-dir",
             "--no-binary=llama-cpp-python", "--require-hashes",
             "-r", str(requirements), "-w", str(build)],
            env,
        )  # fmt: skip
        built = sorted(build.glob("llama_cpp_python-*.whl"))
        if not built:
            sys.exit("error: pip built no llama-cpp-python wheel")
        staged = Path(tmp) / key
        staged.mkdir()
        shutil.move(str(built[-1]), staged / built[-1].name)
        os.replace(staged, cache)  # atomic: a half-built cache entry is never visible
    print(f"== built {label}, cached in {cache}", file=sys.stderr, flush=True)
    print(sorted(cache.glob("llama_cpp_python-*.whl"))[-1])


# make prints "[ 42%] Building ...", ninja (scikit-build-core's default) "[57/135] Building ...".
_PROGRESS = re.compile(r"^\s*\[\s*(?:(\d{1,3})%|(\d+)/(\d+))\]\s*(.*)$")
_STAGES = ("Collecting", "Downloading", "Building wheel", "Created wheel", "Installing build")


def _build(command: list[str], env: dict[str, str]) -> None:
    """Run the build, showing its progress on one stderr line; its tail if it fails."""
    tail: collections.deque[str] = collections.deque(maxlen=60)
    live = sys.stderr.isatty()
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as process:
        assert process.stdout is not None
        last = -10
        for raw in process.stdout:
            line = raw.rstrip()
            tail.append(line)
            found = _PROGRESS.match(line)
            if found:
                done, total = found[2], found[3]
                percent = int(found[1]) if found[1] else 100 * int(done) // max(int(total), 1)
                if live:
                    text = f"  [{percent:3d}%] {found[4]}"[:100]
                    print(f"\r\033[K{text}", end="", file=sys.stderr, flush=True)
                elif percent >= last + 10 or percent == 100:  # a log: one line per 10%
                    print(f"  [{percent:3d}%] {found[4]}", file=sys.stderr, flush=True)
                last = max(last, percent)
            elif line.lstrip().startswith(_STAGES):
                print(("\r\033[K" if live else "") + "  " + line.strip()[:100], file=sys.stderr)
        code = process.wait()
    if live:
        print(file=sys.stderr)
    if code != 0:
        print("\n".join(tail), file=sys.stderr)
        sys.exit(f"error: building llama-cpp-python failed (exit {code}); its last lines are above")


def _has_pip() -> bool:
    import importlib.util

    return importlib.util.find_spec("pip") is not None


if __name__ == "__main__":
    main()
