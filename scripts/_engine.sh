# Sourced after _env.sh: the real engine (llama-cpp-python) from our per-backend wheel cache.
#
# engine_backend    sets $backend (metal on macOS, cuda where nvcc and a GPU are present,
#                   else cpu; GENIUS_LLAMA_BACKEND overrides) and $build_args (CMAKE_ARGS)
# have_c_compiler   whether llama.cpp can be built here at all
# install_engine    builds the wheel once (scripts/llama_wheel.py, cached in
#                   ~/.cache/rusty-genius/wheels) and installs it into .venv, only when the
#                   wheel differs from the one installed there
have_c_compiler() {
    command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 \
        || command -v clang >/dev/null 2>&1
}

engine_backend() {
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
        *) echo "error: GENIUS_LLAMA_BACKEND must be cpu, metal, cuda or vulkan, got '$backend'" >&2
           exit 2 ;;
    esac
    # -march=native turns on llama.cpp's AMX kernels on Sapphire Rapids, and they segfault in
    # the first decode on such VMs (ggml-org/llama.cpp#20824, ollama/ollama#17205; seen here on
    # a 2-core Xeon, raw llama-cpp-python included). ggml gates them on __AMX_INT8__ alone.
    if [ "$(uname -m)" = "x86_64" ] && [ "$backend" != "metal" ]; then
        build_args="${build_args:+$build_args }-DCMAKE_C_FLAGS=-mno-amx-int8 -DCMAKE_CXX_FLAGS=-mno-amx-int8"
    fi
}

install_engine() {
    local wheel marker digest
    engine_backend
    # Prints where the wheel is; on the first run it says the build takes a few minutes and
    # shows its progress (on stderr).
    wheel="$(uv run --no-sync python scripts/llama_wheel.py --backend "$backend" "$build_args")"
    marker="$ROOT/.venv/.rusty-genius-llama-wheel"
    digest="$(uv run --no-sync python -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$wheel")"
    if [ -f "$marker" ] && [ "$(cat "$marker")" = "$digest" ] \
        && uv run --no-sync python -c 'import importlib.metadata as m; m.version("llama-cpp-python")' 2>/dev/null; then
        return 0  # this very wheel is installed
    fi
    echo "== installing the real engine ($backend): $(basename "$wheel")" >&2
    uv pip install --quiet --python "$ROOT/.venv" --no-deps --reinstall "$wheel" >&2
    echo "$digest" >"$marker"
}
