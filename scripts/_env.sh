# Sourced by the scripts: repo root, a local temp dir, and uv (bootstrapped if missing).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export TMPDIR="$ROOT/.tmp" TEMP="$ROOT/.tmp" TMP="$ROOT/.tmp"
mkdir -p "$TMPDIR"
export PATH="$HOME/.local/bin:$PATH"
if ! command -v uv >/dev/null 2>&1; then
    echo "uv not found: installing it with pip (user site)" >&2
    python3 -m pip install --user --quiet uv || python3 -m pip install --quiet uv
    export PATH="$(python3 -m site --user-base)/bin:$PATH"
fi
command -v uv >/dev/null 2>&1 || { echo "error: could not install uv" >&2; exit 1; }
