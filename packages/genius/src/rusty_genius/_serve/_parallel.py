"""``genius serve --parallel N`` (env ``GENIUS_NUM_PARALLEL``) and ``--threads N``.

``--parallel`` is how many requests one loaded model serves at once, for every engine:
the llama engine gets that many sequences (each with the full per-request context,
so its context is ``N * context_size`` tokens, as llama-server and Ollama size it),
and the brainstem lets that many requests run on a model. Left unset, each engine
decides: four sequences for llama.cpp (Ollama's ``OLLAMA_NUM_PARALLEL`` default),
the upstream's slots for ``--remote`` (llama-server's ``/props``), one for the stub.
``--parallelism`` is the deprecated spelling.

``--threads`` is llama.cpp's generation and prompt thread count (default: what
llama-cpp-python picks, half the CPUs for generation and all for prompts).
"""

from __future__ import annotations

import argparse
import os
from typing import Final

from rusty_genius_core import ConfigError
from rusty_genius_core.limits import PARALLEL, THREADS, Limit

__all__ = ["PARALLEL_ENV", "add_parallel_options", "parallel_setting", "threads_setting"]

PARALLEL_ENV: Final = "GENIUS_NUM_PARALLEL"


def add_parallel_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--parallel",
        type=int,
        metavar="N",
        help=f"requests one model serves at once, each with its own context (default: env "
        f"{PARALLEL_ENV}, else the engine's: 4 for llama.cpp, the upstream's slots for --remote)",
    )
    group.add_argument(
        "--parallelism", dest="parallel", type=int, metavar="N", help=argparse.SUPPRESS
    )  # the old spelling, kept as an alias
    group.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="llama.cpp threads for generation and prompts (default: llama-cpp-python's)",
    )
    group.add_argument(
        "--cache-ram",
        type=_cache_ram,
        metavar="MIB",
        help="MiB of prompts a llama model keeps in host memory after their slot moved on, "
        "so a returning prompt skips its prefill (llama-server's --cache-ram; 0: none; "
        "default 1024)",
    )


def _cache_ram(text: str) -> int:
    """``--cache-ram`` in bytes: a whole number of MiB, 0 or more."""
    try:
        mib = int(text)
    except ValueError:
        mib = -1
    if not 0 <= mib <= 1 << 20:
        raise argparse.ArgumentTypeError(
            f"--cache-ram must be a whole number of MiB from 0 to {1 << 20}, got {text!r}"
        )
    return mib << 20


def _in(limit: Limit, value: int) -> bool:
    return (limit.lo is None or value >= limit.lo) and (limit.hi is None or value <= limit.hi)


def parallel_setting(given: int | None) -> int | None:
    """``--parallel``, else ``GENIUS_NUM_PARALLEL``, else ``None`` (the engine decides)."""
    if given is None:
        text = os.environ.get(PARALLEL_ENV, "").strip()
        if not text:
            return None
        try:
            value: int | None = int(text)
        except ValueError:
            value = None
        where = f"{PARALLEL_ENV}={text!r}"
    else:
        value, where = given, f"--parallel {given}"
    if value is None or not _in(PARALLEL, value):
        raise ConfigError(
            f"{where}: the requests served at once must be an integer from "
            f"{PARALLEL.lo:g} to {PARALLEL.hi:g}"
        )
    return value


def threads_setting(given: int | None) -> int | None:
    """``--threads`` checked against the library's bound, or ``None``."""
    if given is not None and not _in(THREADS, given):
        raise ConfigError(
            f"--threads {given}: the thread count must be an integer from "
            f"{THREADS.lo:g} to {THREADS.hi:g}"
        )
    return given
