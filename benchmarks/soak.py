"""``python -m benchmarks.soak``: the soak of ``genius serve`` alone, N waves of M clients.

The same measurement as ``python -m benchmarks --only soak``, with its size and seed
as options; it prints the table (and, with ``--json``, every wave's outcomes) and
exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

import attrs

from ._report import render_table
from ._setup import close_workspace, open_workspace
from ._soak import CLIENTS, WAVES, SoakPlan, run_soak

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.soak",
        description="N waves of M streaming clients with random disconnects against "
        "genius serve --backend pinky; answers lost, 5xx and the server's RSS.",
    )
    parser.add_argument(
        "--waves", type=_positive, metavar="N", help=f"waves (default {WAVES}; 3 quick)"
    )
    parser.add_argument(
        "--clients",
        type=_positive,
        metavar="M",
        help=f"clients per wave (default {CLIENTS}; 20 quick)",
    )
    parser.add_argument("--seed", type=int, default=18, help="random choices' seed (default 18)")
    parser.add_argument(
        "--loop",
        choices=("asyncio", "trio", "both"),
        default="both",
        help="the server's event loop (default both, one after the other)",
    )
    parser.add_argument("--quick", action="store_true", help="3 waves of 20 clients")
    parser.add_argument("--json", action="store_true", help="also print each loop's outcomes")
    args = parser.parse_args(argv)
    plan = SoakPlan(
        waves=args.waves or (3 if args.quick else WAVES),
        clients=args.clients or (20 if args.quick else CLIENTS),
        seed=args.seed,
        loops=("asyncio", "trio") if args.loop == "both" else (args.loop,),
    )
    workspace = open_workspace(need_models=False)
    try:
        rows = run_soak(workspace, plan)
    finally:
        close_workspace(workspace)
    print(render_table(rows))
    if args.json:
        print(json.dumps({"plan": attrs.asdict(plan), "rows": [attrs.asdict(r) for r in rows]}))
    return 0 if all(row.verdict == "pass" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
