"""Measurement ``parallel``: N concurrent streaming clients, ``genius serve`` vs ``llama-server -np N``.

For N = 1, 4 and 8, N clients each stream 3 chat requests one after another (distinct
prompts, greedy, ``max_tokens`` 128; 32 with ``--quick``) against each server in turn,
the order alternating per repetition (interleaved). No measured prompt was sent to that
server before: each run's prompts name the run (and the warm-up has its own), because
llama-server keeps every finished prompt's KV cache in host memory (``--cache-ram``,
8 GiB by default) and answers a repeated prompt after evaluating one token, which
turned the repetitions (and the warm-up's reader 0) into cache hits for the reference
alone: a measure of that cache, not of batching. Per run: aggregate tok/s (every
completion token of every request, from the servers' ``usage``, over the run's wall
time) and the TTFT p50 over its requests (request sent to first content chunk).

The reference is llama.cpp's own ``llama-server`` built from the vendored llama.cpp of
the locked llama-cpp-python sdist (``benchmarks/_llama_server.py``, cached under
``~/.cache/rusty-genius/llama-server``), with ``-np N``, the context N x 4096 (the
per-request context genius gives SmolLM2 by default) and the same thread count on both
sides (``--threads``/``-t``/``-tb``). A third target, ``genius serve --remote`` in front
of that llama-server, is measured at N = 8 with default settings.

Targets (issue 13): aggregate tok/s >= 0.95x llama-server at N = 4 and 8, TTFT p50 <=
1.5x, remote >= 0.95x llama-server direct at N = 8.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import TYPE_CHECKING, Any, Final

import anyio
import httpx

from ._report import Row, higher_is_better, lower_is_better, pending
from ._serve import (
    DEAD_ENDPOINT,
    _free_port,
    _genius_command,
    genius_serve_available,
    serve_environment,
    started_server,
)
from ._setup import MODELS

if TYPE_CHECKING:
    from pathlib import Path

    from ._setup import Plan, Workspace

__all__ = ["run_parallel"]

CLIENTS: Final = (1, 4, 8)
REQUESTS_PER_CLIENT: Final = 3
PER_REQUEST_CONTEXT: Final = 4096
THROUGHPUT_TARGET: Final = 0.95
TTFT_TARGET: Final = 1.5
MODEL_NAME: Final = "smollm2"


def _threads() -> int:
    from ._decode import default_threads

    return default_threads()


def _genius(workspace: Workspace, port: int, n: int | None, remote: str | None) -> list[str]:
    command = [
        *_genius_command(),
        "serve",
        "--home",
        str(workspace.home),
        "--cache",
        str(workspace.cache),
        "--endpoint",
        DEAD_ENDPOINT,
        "--keep-alive",
        "-1",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    if remote is not None:
        return [*command, "--remote", remote]
    assert n is not None
    return [*command, "--backend", "llama", "--parallel", str(n), "--threads", str(_threads())]


def _llama_server(binary: Path, model: Path, port: int, n: int) -> list[str]:
    threads = str(_threads())
    return [
        str(binary),
        "-m",
        str(model),
        "--alias",
        MODEL_NAME,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "-np",
        str(n),
        "-c",
        str(n * PER_REQUEST_CONTEXT),
        "-b",
        "512",
        "-t",
        threads,
        "-tb",
        threads,
    ]


async def _one(
    http: httpx.AsyncClient, url: str, model: str, prompt: str, max_tokens: int
) -> tuple[float | None, int]:
    """Stream one chat request: (TTFT seconds, completion tokens)."""
    body = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0,
        "max_tokens": max_tokens,
    }
    sent = time.perf_counter()
    ttft: float | None = None
    chunks = 0
    usage: int | None = None
    async with http.stream("POST", f"{url}/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            data = json.loads(line[6:])
            for choice in data.get("choices") or ():
                if (choice.get("delta") or {}).get("content"):
                    chunks += 1
                    if ttft is None:
                        ttft = time.perf_counter() - sent
            if data.get("usage"):
                usage = int(data["usage"].get("completion_tokens", 0))
    return ttft, usage if usage is not None else chunks


def _run(url: str, model: str, n: int, max_tokens: int, run: str) -> dict[str, Any]:
    """N clients x 3 streamed requests: aggregate tok/s and the TTFTs; ``run`` names the
    run in every prompt (see the module docstring)."""
    prompts = MODELS["smollm2"].prompts

    async def main() -> dict[str, Any]:
        ttfts: list[float] = []
        tokens = 0
        # A new connection per request, for both servers alike: llama-server closes kept-alive
        # connections in ways a pooled client only learns of when its next request fails.
        limits = httpx.Limits(max_connections=n + 2, max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=600, limits=limits) as http:

            async def client(i: int) -> None:
                nonlocal tokens
                for k in range(REQUESTS_PER_CLIENT):
                    base = prompts[(i + k) % len(prompts)]
                    prompt = f"{base} (reader {i}, part {k + 1}, {run})"
                    ttft, got = await _one(http, url, model, prompt, max_tokens)
                    tokens += got
                    if ttft is not None:
                        ttfts.append(ttft)

            started = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for i in range(n):
                    tg.start_soon(client, i)
            wall = time.perf_counter() - started
        return {"rate": tokens / wall, "ttft_p50": statistics.median(ttfts), "tokens": tokens}

    return anyio.run(main)


def run_parallel(workspace: Workspace, plan: Plan) -> list[Row]:
    target = ">= 0.95x tok/s, <= 1.5x TTFT p50 (N = 4, 8)"
    what = "genius serve vs llama-server -np N"
    if not genius_serve_available():
        return [pending("parallel", what, target, "`genius serve --help` fails")]
    try:
        from ._llama_server import llama_server_binary

        binary = llama_server_binary()
    except Exception as exc:  # no compiler, no sdist: say so instead of failing the run
        return [pending("parallel", what, target, f"llama-server could not be built: {exc}")]
    env = serve_environment(extra=False)
    model_path = workspace.model_paths["smollm2"]
    alias = MODELS["smollm2"].alias
    reps = plan.rounds_or(1, 3)
    max_tokens = plan.pick(32, 128)
    rows: list[Row] = []
    for n in CLIENTS:
        ours_port, ref_port = _free_port(), _free_port()
        runs: dict[str, list[dict[str, Any]]] = {"ours": [], "reference": []}
        with (
            started_server(
                _genius(workspace, ours_port, n, None), env, ours_port, workspace.root / f"g{n}.log"
            ) as ours,
            started_server(
                _llama_server(binary, model_path, ref_port, n),
                env,
                ref_port,
                workspace.root / f"ls{n}.log",
            ) as ref,
        ):
            targets = {"ours": (ours.url, alias), "reference": (ref.url, MODEL_NAME)}
            for url, name in targets.values():  # warm-up: the load, first-use caches
                _run(url, name, 1, 4, "warm-up")
            for rep in range(reps):
                order = ["ours", "reference"] if rep % 2 == 0 else ["reference", "ours"]
                for label in order:
                    url, name = targets[label]
                    runs[label].append(_run(url, name, n, max_tokens, f"run {rep + 1}"))
                    print(f"[parallel] N={n} {label}: {runs[label][-1]}", file=sys.stderr)
            if n == max(CLIENTS):
                remote_port = _free_port()
                with started_server(
                    _genius(workspace, remote_port, None, ref.url),
                    env,
                    remote_port,
                    workspace.root / "remote.log",
                ) as remote:
                    _run(remote.url, MODEL_NAME, 1, 4, "warm-up via genius")
                    direct: list[float] = []
                    fronted: list[float] = []
                    for rep in range(reps):
                        # One llama-server behind both: each its own prompts (its prompt cache).
                        pairs = [(remote.url, fronted, "via genius"), (ref.url, direct, "direct")]
                        for url, into, how in pairs if rep % 2 == 0 else pairs[::-1]:
                            run = f"remote run {rep + 1}, {how}"
                            into.append(_run(url, MODEL_NAME, n, max_tokens, run)["rate"])
                    rows.append(
                        higher_is_better(
                            measurement="parallel",
                            name=f"N={n} aggregate tok/s, genius --remote vs llama-server direct",
                            ours=fronted,
                            reference=direct,
                            unit="tok/s",
                            target=THROUGHPUT_TARGET,
                        )
                    )
        rows.append(
            higher_is_better(
                measurement="parallel",
                name=f"N={n} aggregate tok/s, genius serve vs llama-server -np {n}",
                ours=[r["rate"] for r in runs["ours"]],
                reference=[r["rate"] for r in runs["reference"]],
                unit="tok/s",
                target=THROUGHPUT_TARGET if n > 1 else None,
                samples={"max_tokens": max_tokens, "runs": runs},
            )
        )
        rows.append(
            lower_is_better(
                measurement="parallel",
                name=f"N={n} TTFT p50, genius serve vs llama-server -np {n}",
                ours=[r["ttft_p50"] * 1e3 for r in runs["ours"]],
                reference=[r["ttft_p50"] * 1e3 for r in runs["reference"]],
                unit="ms",
                target=TTFT_TARGET if n > 1 else None,
            )
        )
    return rows
