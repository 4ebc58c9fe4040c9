#!/usr/bin/env bash
# The main job on a fresh machine: set up (uv, the workspace, the real engine) and run the
# `genius` CLI. With no arguments it streams the embedded default model's answer to
# "What is the capital of France?" from llama.cpp. The real engine is the per-backend
# llama-cpp-python wheel scripts/llama_wheel.py builds once (a few minutes) and caches in
# ~/.cache/rusty-genius/wheels. Pinky, the stub engine, answers only with `--backend pinky`
# or where no C compiler exists to build llama.cpp, and then the first line says so.
pinky=""
previous=""
for arg in "$@"; do
    case "$arg" in --backend=pinky) pinky="asked for (--backend pinky)" ;; esac
    [ "$previous" = "--backend" ] && [ "$arg" = "pinky" ] && pinky="asked for (--backend pinky)"
    previous="$arg"
done
if [ -z "$pinky" ] && ! { command -v cc || command -v gcc || command -v clang; } >/dev/null 2>&1; then
    pinky="no C compiler (cc, gcc or clang) to build llama.cpp"
fi
if [ -n "$pinky" ]; then
    echo "genius.sh: the Pinky stub engine answers, not a real model: $pinky" >&2
fi
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
source "$ROOT/scripts/_engine.sh"
if [ -n "$pinky" ]; then
    uv sync --quiet --locked --inexact --group dev >&2
else
    # Everything but llama-cpp-python itself, which comes from our wheel cache.
    uv sync --quiet --locked --inexact --group dev --group real \
        --no-install-package llama-cpp-python >&2
    install_engine
fi
if [ "$#" -eq 0 ]; then
    set -- run "What is the capital of France? Answer in one word." --temperature 0
fi
if [ -n "$pinky" ] && [ "${1:-}" = "run" ] && [[ " $* " != *" --backend"* ]]; then
    set -- "$@" --backend pinky
fi
exec uv run --no-sync genius "$@"
