#!/usr/bin/env bash
# Fast run of every check and every test on the Pinky stub: no native build, no model.
# Real-engine tests are marked `real` and run from scripts/metal.sh.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
# --inexact: the real engine metal.sh or genius.sh installed stays installed.
uv sync --locked --inexact --group dev
echo "== ruff"; uv run --no-sync ruff check .
uv run --no-sync ruff format --check .
echo "== mypy (strict)"; uv run --no-sync mypy
echo "== import contracts"; uv run --no-sync lint-imports
echo "== pytest (pinky)"
uv run --no-sync pytest -m "not real" "$@"
