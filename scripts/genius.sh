#!/usr/bin/env bash
# The main job on a fresh machine: set up (uv, the workspace) and run the `genius` CLI.
# With no arguments it streams an answer from the embedded default model; the Pinky
# stub answers unless the real engine is installed (scripts/metal.sh installs it).
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
uv sync --locked --inexact --group dev >&2
if [ "$#" -eq 0 ]; then
    set -- run "What is the capital of France? Answer in one word."
fi
exec uv run --no-sync genius "$@"
