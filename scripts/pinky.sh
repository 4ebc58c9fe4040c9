#!/usr/bin/env bash
# Fast run of every check and every test on the Pinky stub: no native build, no model.
# Real-engine tests are marked `real` and run from scripts/metal.sh.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
uv sync --locked --group dev
# The browser tests (marker `browser`) drive Debian's chromium; they fail without it.
if ! [ -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "== installing chromium for the browser tests"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
    else
        echo "warning: /usr/bin/chromium is missing and cannot be installed here (not root" \
            "or no apt-get); the browser tests will fail: apt-get install -y chromium" >&2
    fi
fi
echo "== ruff"; uv run --no-sync ruff check .
uv run --no-sync ruff format --check .
echo "== mypy (strict)"; uv run --no-sync mypy
echo "== import contracts"; uv run --no-sync lint-imports
echo "== pytest (pinky)"
uv run --no-sync pytest -m "not real" "$@"
