"""Measurement 5: a bounded soak of ``genius serve`` (issue 18), not a comparison.

``genius serve --backend pinky`` runs as a subprocess on loopback, once on asyncio and
once on trio (``GENIUS_ASYNC_BACKEND``). One warm-up wave, then N waves of M streaming
clients started at once: each client picks, from a seeded random generator, the OpenAI
(SSE) or the Ollama (NDJSON) API, a prompt length and whether it disconnects after a
few chunks. A client that stays must get a 200 and its stream's end (``[DONE]``, or
``"done": true``); anything else is an answer lost. Reported: answers lost (target 0),
5xx answers (target 0), the requests the server still counts as waiting or streaming
once the clients are gone (``/health``, info) and the server's RSS after the warm-up
wave against after the last wave (target within 10 %).

The server gets ``--max-queue`` above M, so a wave is never refused with 503 by design;
a 503 counts as a 5xx.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import anyio
import attrs
import httpx

from ._report import Row

if TYPE_CHECKING:
    from ._setup import Plan, Workspace

__all__ = ["CLIENTS", "WAVES", "SoakPlan", "run_soak", "soak_rows"]

MODEL: Final = "pinky-soak"
RSS_TARGET: Final = 1.10
DISCONNECT_SHARE: Final = 0.3
WAVES: Final = 12  # the defaults: about a minute on 2 cores, both loops
CLIENTS: Final = 100
DEAD_ENDPOINT: Final = "http://127.0.0.1:9"
Loop = Literal["asyncio", "trio"]
Outcome = Literal["answered", "left", "lost", "5xx", "4xx"]


@attrs.frozen(kw_only=True)
class SoakPlan:
    """N ``waves`` of M ``clients`` on each loop, the random choices seeded by ``seed``."""

    waves: int
    clients: int
    seed: int = 18
    loops: tuple[Loop, ...] = ("asyncio", "trio")
    max_tokens: int = 256


@attrs.frozen(kw_only=True)
class _Client:
    api: Literal["openai", "ollama"]
    words: int
    leave_after: int | None  # chunks read before disconnecting; None: read to the end


def _clients(plan: SoakPlan, wave: int) -> list[_Client]:
    rng = random.Random(f"{plan.seed}:{wave}")
    return [
        _Client(
            api=rng.choice(("openai", "ollama")),
            words=rng.randint(16, 256),
            leave_after=rng.randint(1, 8) if rng.random() < DISCONNECT_SHARE else None,
        )
        for _ in range(plan.clients)
    ]


def _request(client: _Client, max_tokens: int) -> tuple[str, dict[str, Any]]:
    prompt = " ".join(f"w{i}" for i in range(client.words))
    if client.api == "openai":
        return "/v1/chat/completions", {
            "model": MODEL,
            "messages": [{"role": "user", "content": prompt}],
            "stream": True,
            "max_tokens": max_tokens,
        }
    return "/api/generate", {
        "model": MODEL,
        "prompt": prompt,
        "stream": True,
        "options": {"num_predict": max_tokens},
    }


def _is_end(api: str, line: str) -> bool:
    if api == "openai":
        return line.strip() == "data: [DONE]"
    try:
        return bool(line.strip()) and json.loads(line).get("done") is True
    except ValueError:
        return False


async def _one(http: httpx.AsyncClient, client: _Client, max_tokens: int) -> Outcome:
    path, body = _request(client, max_tokens)
    try:
        async with http.stream("POST", path, json=body) as response:
            if response.status_code >= 500:
                return "5xx"
            if response.status_code != 200:
                return "4xx"
            chunks = 0
            async for line in response.aiter_lines():
                if not line.strip():
                    continue
                if _is_end(client.api, line):
                    return "answered"
                chunks += 1
                if client.leave_after is not None and chunks >= client.leave_after:
                    return "left"  # leaving the block closes the connection mid-stream
    except httpx.HTTPError:
        return "lost"
    return "left" if client.leave_after is not None else "lost"


async def _wave(url: str, clients: list[_Client], max_tokens: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    limits = httpx.Limits(max_connections=len(clients), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:

        async def run(client: _Client) -> None:
            outcome = await _one(http, client, max_tokens)
            counts[outcome] = counts.get(outcome, 0) + 1

        async with anyio.create_task_group() as tg:
            for client in clients:
                tg.start_soon(run, client)
    return counts


async def _settled(url: str) -> dict[str, int]:
    """``/health``'s waiting and streaming once they reach 0, or after 10 s as they are."""
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        health: dict[str, Any] = {}
        with anyio.move_on_after(10):
            while True:
                health = (await http.get("/health")).json()
                if health["waiting"] == 0 and health["streaming"] == 0:
                    break
                await anyio.sleep(0.1)
    return {
        "waiting": int(health.get("waiting", -1)),
        "streaming": int(health.get("streaming", -1)),
    }


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def _serve_command(workspace: Workspace, port: int, clients: int) -> list[str]:
    genius = Path(sys.executable).with_name("genius")
    command = [str(genius)] if genius.exists() else [sys.executable, "-m", "rusty_genius"]
    return [
        *command,
        "serve",
        "--backend",
        "pinky",
        "--home",
        str(workspace.home),
        "--cache",
        str(workspace.cache),
        "--endpoint",
        DEAD_ENDPOINT,
        "--keep-alive",
        "-1",
        "--max-queue",
        str(clients * 2),
        "--parallel",
        "4",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def _soak_one(workspace: Workspace, plan: SoakPlan, loop: Loop) -> dict[str, Any]:
    from ._serve import _free_port, started_server

    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "GENIUS_"))}
    env["GENIUS_ASYNC_BACKEND"] = loop
    port = _free_port()
    log = workspace.root / f"soak_{loop}.log"
    waves: list[dict[str, int]] = []
    started = time.perf_counter()
    with started_server(_serve_command(workspace, port, plan.clients), env, port, log) as server:
        pid = server.pid
        warm = anyio.run(_wave, server.url, _clients(plan, -1), plan.max_tokens)
        rss_before = _rss_kib(pid)
        for wave in range(plan.waves):
            waves.append(anyio.run(_wave, server.url, _clients(plan, wave), plan.max_tokens))
        left_running = anyio.run(_settled, server.url)
        rss_after = _rss_kib(pid)
    total: dict[str, int] = {}
    for counts in waves:
        for outcome, n in counts.items():
            total[outcome] = total.get(outcome, 0) + n
    return {
        "loop": loop,
        "waves": waves,
        "warm_up": warm,
        "total": total,
        "left_running": left_running,
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _count_row(name: str, count: int, unit: str, samples: dict[str, Any]) -> Row:
    return Row(
        measurement="soak",
        name=name,
        ours=float(count),
        reference=None,
        unit=unit,
        ratio=None,
        kind="info",
        target="== 0",
        verdict="pass" if count == 0 else "miss",
        spread="-",
        samples=samples,
    )


def soak_rows(plan: SoakPlan, got: dict[str, Any]) -> list[Row]:
    """The table's rows for one loop's soak."""
    loop, total = got["loop"], got["total"]
    size = f"{plan.waves}x{plan.clients}, {loop}"
    samples = {**got, "seed": plan.seed, "clients": plan.clients}
    before, after = got["rss_before_kib"] / 1024, got["rss_after_kib"] / 1024
    ratio = after / before
    left = got["left_running"]
    return [
        _count_row(f"soak answers lost ({size})", total.get("lost", 0), "lost", samples),
        _count_row(f"soak 5xx answers ({size})", total.get("5xx", 0), "5xx", {}),
        Row(
            measurement="soak",
            name=f"soak server RSS, after vs before the waves ({size})",
            ours=after,
            reference=before,
            unit="MiB",
            ratio=ratio,
            kind="ratio",
            target=f"<= {RSS_TARGET:g}",
            verdict="pass" if ratio <= RSS_TARGET else "miss",
            spread="-",
            note=(
                f"{loop}: {total.get('answered', 0)} answered, {total.get('left', 0)} left "
                f"mid-stream by design, {total.get('4xx', 0)} 4xx; afterwards "
                f"{left['waiting']} waiting, {left['streaming']} streaming; {got['seconds']} s"
            ),
        ),
    ]


def run_soak(workspace: Workspace, plan: Plan | SoakPlan) -> list[Row]:
    """``python -m benchmarks --only soak`` (a :class:`Plan`), or ``benchmarks.soak``."""
    from ._setup import Plan

    if isinstance(plan, Plan):
        soak = SoakPlan(waves=plan.pick(3, WAVES), clients=plan.pick(20, CLIENTS))
    else:
        soak = plan
    rows: list[Row] = []
    for loop in soak.loops:
        rows += soak_rows(soak, _soak_one(workspace, soak, loop))
    return rows
