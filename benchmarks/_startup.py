"""Measurements 5 and 6: cold start to the first token, and peak RSS, in fresh processes.

Ours: ``genius run --json --backend llama MODEL PROMPT`` with a registry that already
holds the model (a registry hit: no network; the endpoint points at a closed
loopback port to make sure). Reference: a fresh ``python -c`` that imports
llama_cpp, builds ``Llama(model, n_ctx=4096, n_batch=512)`` and streams
``create_chat_completion`` (SmolLM2) or ``create_completion`` (Gemma 3 270M), printing
each piece as it comes. Both use llama-cpp-python's default thread arguments, greedy
sampling, the same short prompt and ``max_tokens``; both run with
``OMP_THREAD_LIMIT`` set to the decode thread count (half the cores: 1 here), which
caps llama.cpp's OpenMP prompt evaluation at that many threads. Without it the
default two-thread prompt evaluation on a 2-core machine shared with other work
swung the same process between 0.8 and 5 s. Both import from bytecode the warm-up
runs wrote, as an installed package does: ``PYTHONDONTWRITEBYTECODE`` is dropped and
``PYTHONPYCACHEPREFIX`` points into the scratch directory (nothing is written into the
tree or the virtual environment); with that variable set, as on the shared development
machine, every run compiled llama_cpp, numpy, jinja2 and our packages from source.

- cold start: from just before the process is spawned to the moment the parent reads
  the first non-empty text line from its stdout (interpreter start, imports, model
  load, prompt, first token);
- memory: each process's peak RSS (VmHWM).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._proc import Finished, run_measured
from ._report import Row, lower_is_better
from ._setup import MODELS, ROOT, BenchModel

if TYPE_CHECKING:
    from ._setup import Plan, Workspace

__all__ = ["run_startup"]

PROMPT = "Tell me a short story about a cat."
MAX_TOKENS = 32
DEAD_ENDPOINT = "http://127.0.0.1:9"  # discard port: nothing listens; no request should go out

RAW_SCRIPT = """
import json, sys
path, chat, prompt, max_tokens = sys.argv[1], sys.argv[2] == "chat", sys.argv[3], int(sys.argv[4])
import llama_cpp
llm = llama_cpp.Llama(
    model_path=path, n_ctx=4096, n_batch=512, verbose=False,
    n_gpu_layers=-1 if llama_cpp.llama_supports_gpu_offload() else 0,
)
greedy = dict(temperature=0.0, top_k=1, top_p=1.0, min_p=0.0, repeat_penalty=1.0)
if chat:
    stream = llm.create_chat_completion(
        messages=[{"role": "user", "content": prompt}], stream=True, max_tokens=max_tokens, **greedy
    )
    texts = (c["choices"][0]["delta"].get("content") for c in stream)
else:
    stream = llm.create_completion(prompt, stream=True, max_tokens=max_tokens, **greedy)
    texts = (c["choices"][0]["text"] for c in stream)
for text in texts:
    if text:
        sys.stdout.write(json.dumps({"type": "content", "text": text}) + "\\n")
        sys.stdout.flush()
llm.close()
"""


def _first_text(done: Finished) -> tuple[float, str]:
    """Seconds from spawn to the first non-empty content line, and the whole text."""
    first: float | None = None
    pieces: list[str] = []
    for at, line in done.lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("type") == "content" and event.get("text"):
            if first is None:
                first = at
            pieces.append(event["text"])
    if first is None:
        raise RuntimeError(f"no text on stdout; stderr: {done.stderr.strip()[-2000:]}")
    return first - done.started, "".join(pieces)


def _env(workspace: Workspace) -> dict[str, str]:
    from ._decode import default_threads

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(workspace.root / "pycache")
    env["OMP_THREAD_LIMIT"] = str(default_threads())
    return env


def _genius(workspace: Workspace, model: BenchModel) -> Finished:
    genius = Path(sys.executable).with_name("genius")
    command = [
        str(genius) if genius.exists() else sys.executable,
        *([] if genius.exists() else ["-m", "rusty_genius"]),
        "run",
        "--json",
        "--backend",
        "llama",
        "--home",
        str(workspace.home),
        "--cache",
        str(workspace.cache),
        "--endpoint",
        DEAD_ENDPOINT,
        "--temperature",
        "0",
        "--max-tokens",
        str(MAX_TOKENS),
        *([] if model.chat else ["--raw"]),
        model.alias,
        PROMPT,
    ]
    env = {k: v for k, v in _env(workspace).items() if not k.startswith(("HF_", "GENIUS_"))}
    return run_measured(command, env=env, cwd=ROOT, timeout=300).check("genius run")


def _raw(workspace: Workspace, model: BenchModel) -> Finished:
    command = [
        sys.executable,
        "-c",
        RAW_SCRIPT,
        str(workspace.model_paths[model.key]),
        "chat" if model.chat else "completion",
        PROMPT,
        str(MAX_TOKENS),
    ]
    return run_measured(command, env=_env(workspace), cwd=ROOT, timeout=300).check(
        "raw llama-cpp-python"
    )


def run_startup(workspace: Workspace, plan: Plan) -> list[Row]:
    rounds = plan.rounds_or(2, 5)
    rows: list[Row] = []
    for model in MODELS.values():
        got: dict[str, list[dict[str, Any]]] = {"ours": [], "raw": []}
        _raw(workspace, model)  # warm the page cache and write the .pyc files
        _genius(workspace, model)
        for i in range(rounds):
            sides = ("ours", "raw") if i % 2 == 0 else ("raw", "ours")
            for side in sides:
                done = _genius(workspace, model) if side == "ours" else _raw(workspace, model)
                first, text = _first_text(done)
                got[side].append(
                    {
                        "first": first,
                        "rss_mib": done.max_rss_kib / 1024,
                        "wall": done.wall,
                        "text": text,
                    }
                )
        same = [o["text"] == r["text"] for o, r in zip(got["ours"], got["raw"], strict=True)]
        api = "create_chat_completion" if model.chat else "create_completion"
        note = "" if all(same) else f"text differed in {same.count(False)} of {len(same)} rounds"
        common = {
            "prompt": PROMPT,
            "max_tokens": MAX_TOKENS,
            "same_text": same,
            "omp_thread_limit": _env(workspace)["OMP_THREAD_LIMIT"],
            "bytecode": "cached by the warm-up runs",
        }
        rows.append(
            lower_is_better(
                measurement="cold_start",
                name=f"cold start to first token, genius run vs python+{api} ({model.key})",
                ours=[s["first"] * 1e3 for s in got["ours"]],
                reference=[s["first"] * 1e3 for s in got["raw"]],
                unit="ms",
                target=None,
                note=note,
                samples={**common, "wall_s": {k: [s["wall"] for s in v] for k, v in got.items()}},
            )
        )
        rows.append(
            lower_is_better(
                measurement="memory",
                name=f"peak RSS, genius run vs python+{api} ({model.key})",
                ours=[s["rss_mib"] for s in got["ours"]],
                reference=[s["rss_mib"] for s in got["raw"]],
                unit="MiB",
                target=None,
                samples=common,
            )
        )
    return rows
