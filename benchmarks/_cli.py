"""``python -m benchmarks``: run the measurements, print the table, write the JSON."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from ._report import Row, machine_info, render_table, write_results
from ._setup import ROOT, Plan, Workspace, close_workspace, open_workspace

__all__ = ["MEASUREMENTS", "main"]

Runner = Callable[[Workspace, Plan], list[Row]]


def _decode(workspace: Workspace, plan: Plan) -> list[Row]:
    from ._decode import run_decode

    return run_decode(workspace, plan)


def _serve(workspace: Workspace, plan: Plan) -> list[Row]:
    from ._serve import run_serve

    return run_serve(workspace, plan)


def _parallel(workspace: Workspace, plan: Plan) -> list[Row]:
    from ._parallel import run_parallel

    return run_parallel(workspace, plan)


def _stem(workspace: Workspace, plan: Plan) -> list[Row]:
    from ._stem import run_stem

    return run_stem(workspace, plan)


def _download(workspace: Workspace, plan: Plan) -> list[Row]:
    from ._download import run_download

    return run_download(workspace, plan)


def _startup(workspace: Workspace, plan: Plan) -> list[Row]:
    from ._startup import run_startup

    return run_startup(workspace, plan)


def _soak(workspace: Workspace, plan: Plan) -> list[Row]:
    from ._soak import run_soak

    return run_soak(workspace, plan)


def _agent(workspace: Workspace, plan: Plan) -> list[Row]:
    from ._agent import run_agent

    return run_agent(workspace, plan)


def _lora(workspace: Workspace, plan: Plan) -> list[Row]:
    from ._lora import run_lora

    return run_lora(workspace, plan)


# name -> (runner, needs the test models); cold_start and memory come from the same runs.
MEASUREMENTS: Final[dict[str, tuple[Runner, bool]]] = {
    "decode": (_decode, True),
    "lora": (_lora, True),
    "serve": (_serve, True),
    "parallel": (_parallel, True),
    "stem": (_stem, False),
    "download": (_download, True),
    "cold_start": (_startup, True),
    "memory": (_startup, True),
    "soak": (_soak, False),
    "grammar": (_agent, True),
    "embed": (_agent, True),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="rusty-genius against raw llama-cpp-python, huggingface_hub, curl and a "
        "bare anyio channel; prints a table and writes benchmarks/results/*.json.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer rounds and tokens (about 3 minutes)"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help=f"run only these (repeatable or comma-separated): {', '.join(MEASUREMENTS)}",
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=ROOT / "benchmarks" / "results",
        help="where <UTC timestamp>.json and latest.json go (default: benchmarks/results)",
    )
    parser.add_argument(
        "--rounds", type=int, metavar="N", help="override every measurement's number of rounds"
    )
    parser.add_argument("--no-save", action="store_true", help="print the table only")
    return parser


def _selected(only: Sequence[str]) -> list[str]:
    names = [n.strip() for item in only for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in MEASUREMENTS]
    if unknown:
        raise SystemExit(
            f"python -m benchmarks: unknown measurement(s) {', '.join(unknown)}; "
            f"choose from {', '.join(MEASUREMENTS)}"
        )
    return [n for n in MEASUREMENTS if not names or n in names]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    names = _selected(args.only)
    machine = machine_info(probe_llama=any(MEASUREMENTS[n][1] for n in names))
    plan = Plan(quick=args.quick, rounds=args.rounds)
    workspace = open_workspace(need_models=any(MEASUREMENTS[n][1] for n in names))
    rows: list[Row] = []
    done: dict[Runner, list[Row]] = {}
    started = time.perf_counter()
    try:
        for name in names:
            runner = MEASUREMENTS[name][0]
            print(f"[bench] {name} ...", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            if runner not in done:
                done[runner] = runner(workspace, plan)
            rows += [row for row in done[runner] if row.measurement == name]
            print(f"[bench] {name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    finally:
        close_workspace(workspace)
    print(render_table(rows))
    options = {
        "quick": args.quick,
        "rounds": args.rounds,
        "only": names,
        "seconds": round(time.perf_counter() - started, 1),
        "command": "python -m benchmarks " + " ".join(sys.argv[1:] if argv is None else argv),
        "environment": {
            name: os.environ[name]
            for name in ("BENCH_SERVE_PYTHONPATH", "OMP_THREAD_LIMIT", "GENIUS_ASYNC_BACKEND")
            if name in os.environ
        },
    }
    if not args.no_save:
        stamped, latest = write_results(
            args.results_dir, machine=machine, options=options, rows=rows
        )
        print(f"\nwrote {stamped} and {latest.name}")
    return 0
