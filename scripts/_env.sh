# Sourced by the scripts: repo root, a local temp dir, and uv (bootstrapped if missing).
#
# uv is looked for on PATH, in ~/.local/bin and in our private venv. If it is missing it is
# installed with the first Python 3.11+ found (PYTHON, else python3), in this order:
#   1. a private venv, ~/.cache/rusty-genius/uv-venv: works on PEP 668 system Pythons
#      (Debian's /usr/bin/python3) and touches nothing else;
#   2. pip install --user uv;
#   3. pip install --user --break-system-packages uv (last resort, PEP 668 Pythons).
# Each attempt's output is kept in a log; only if all fail is one error printed, with it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export TMPDIR="$ROOT/.tmp" TEMP="$ROOT/.tmp" TMP="$ROOT/.tmp"
mkdir -p "$TMPDIR"
_find_python() {
    local candidate
    for candidate in ${PYTHON:-} python3 python; do
        if command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

_bootstrap_uv() {
    local py log
    if ! py="$(_find_python)"; then
        echo "error: rusty-genius needs Python 3.11 or newer (set PYTHON=/path/to/python3.11+)," \
            "or uv on PATH (https://docs.astral.sh/uv/getting-started/installation/)" >&2
        exit 1
    fi
    log="$TMPDIR/uv-bootstrap.log"
    : >"$log"
    echo "uv not found: installing it once with $py ($("$py" -V 2>&1)) into $UV_VENV" >&2
    if { "$py" -m venv --clear "$UV_VENV" && "$UV_VENV/bin/python" -m pip install --quiet \
            --disable-pip-version-check uv; } >>"$log" 2>&1; then
        export PATH="$UV_VENV/bin:$PATH"
        return 0
    fi
    rm -rf "$UV_VENV"
    echo "  a venv did not work (see $log); trying pip install --user" >&2
    if "$py" -m pip install --user --quiet --disable-pip-version-check uv >>"$log" 2>&1 \
        || "$py" -m pip install --user --break-system-packages --quiet \
            --disable-pip-version-check uv >>"$log" 2>&1; then
        export PATH="$("$py" -m site --user-base)/bin:$PATH"
        return 0
    fi
    echo "error: could not install uv with $py: a private venv ($py -m venv), pip install" \
        "--user and pip install --user --break-system-packages all failed. Their output:" >&2
    sed 's/^/  | /' "$log" >&2
    echo "Install uv yourself (https://docs.astral.sh/uv/getting-started/installation/)" \
        "and run this again." >&2
    exit 1
}

GENIUS_CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/rusty-genius"
UV_VENV="$GENIUS_CACHE_ROOT/uv-venv"
# A new workspace environment uses the Python that runs this script (found before uv's own
# venv is on PATH), unless UV_PYTHON says otherwise; an existing .venv is kept as it is.
if [ -z "${UV_PYTHON:-}" ] && [ ! -d "$ROOT/.venv" ] && BOOT_PYTHON="$(_find_python)"; then
    # The interpreter itself, not a shim or link: uv compares this path with .venv's and
    # warns of an "incompatible environment" on every later `uv run` when they differ.
    export UV_PYTHON="$("$BOOT_PYTHON" -c 'import os, sys; print(os.path.realpath(sys.executable))')"
fi
export PATH="$HOME/.local/bin:$PATH"
[ -x "$UV_VENV/bin/uv" ] && export PATH="$UV_VENV/bin:$PATH"
if ! command -v uv >/dev/null 2>&1; then
    _bootstrap_uv
fi
command -v uv >/dev/null 2>&1 || { echo "error: uv was installed but is not on PATH" >&2; exit 1; }
