"""Measurement 2: ``genius serve`` vs ``llama_cpp.server``, both driven by the ``openai`` client.

Both servers run as subprocesses on loopback ports with the same GGUF (SmolLM2),
context and batch size; one client process (the ``openai`` package) streams the same
chat request, greedy, to each in turn (alternating order per round) and times TTFT
and decode tokens/s as the in-process measurement does.

Until ``genius serve --help`` succeeds this reports a pending row. The reference
needs llama-cpp-python's ``server`` extra (fastapi, uvicorn, sse-starlette,
starlette-context, pydantic-settings), which the workspace does not install: put it
in a directory and name it in ``BENCH_SERVE_PYTHONPATH`` (``uv pip install --target
DIR uvicorn fastapi sse-starlette 'starlette-context<0.4' pydantic-settings`` leaves
the lock alone). That directory goes on the ``PYTHONPATH`` of the llama_cpp.server
process only, never on ours (it may carry other versions of shared libraries); the
``openai`` client comes from the environment, or from that directory when missing.
Both servers get ``OMP_THREAD_LIMIT`` as in the cold-start measurement, and genius
keeps the model loaded (``--keep-alive -1``); the registry hit means no network.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from ._proc import run_measured
from ._report import Row, higher_is_better, paired_delta, pending
from ._setup import MODELS, ROOT

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ._setup import Plan, Workspace

__all__ = [
    "genius_serve_available",
    "missing_modules",
    "run_serve",
    "serve_environment",
    "started_server",
    "stream_with_openai",
]

DECODE_TARGET = 0.98
TTFT_TARGET_MS = 5.0
MODEL_NAME = "smollm2"
DEAD_ENDPOINT = "http://127.0.0.1:9"


def _genius_command() -> list[str]:
    genius = Path(sys.executable).with_name("genius")
    return [str(genius)] if genius.exists() else [sys.executable, "-m", "rusty_genius"]


def genius_serve_available() -> bool:
    done = subprocess.run(
        [*_genius_command(), "serve", "--help"], capture_output=True, timeout=60, check=False
    )
    return done.returncode == 0


def serve_environment(*, extra: bool) -> dict[str, str]:
    """The environment of a server or client process; ``extra`` adds BENCH_SERVE_PYTHONPATH."""
    from ._decode import default_threads

    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "GENIUS_"))}
    env["OMP_THREAD_LIMIT"] = str(default_threads())
    path = os.environ.get("BENCH_SERVE_PYTHONPATH")
    if extra and path:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (path, env.get("PYTHONPATH")) if p)
    return env


def missing_modules(env: Mapping[str, str], *modules: str) -> list[str]:
    probe = "import importlib.util as u, sys; print(' '.join(m for m in sys.argv[1:] if u.find_spec(m) is None))"
    done = subprocess.run(
        [sys.executable, "-c", probe, *modules],
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=60,
        check=True,
    )
    return done.stdout.split()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class started_server:
    """Start a server subprocess and wait until ``GET /v1/models`` answers 200."""

    def __init__(self, command: list[str], env: Mapping[str, str], port: int, log: Path) -> None:
        self.command = command
        self.env = env
        self.port = port
        self.log = log  # its stdout and stderr (a pipe nobody reads would block it)
        self.url = f"http://127.0.0.1:{port}"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The server process's id (while the block runs)."""
        if self._proc is None:
            raise RuntimeError(f"{self.command[:4]} is not running")
        return self._proc.pid

    def __enter__(self) -> started_server:
        with self.log.open("wb") as log:
            self._proc = subprocess.Popen(
                self.command,
                env=dict(self.env),
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self.log.read_text(errors="replace")
                raise RuntimeError(f"{self.command[:4]} exited early: {err[-2000:]}")
            try:
                if httpx.get(self.url + "/v1/models", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"{self.command[:4]} did not answer on {self.url} within 180 s")

    def __exit__(self, *exc_info: object) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _llama_server(model_path: Path, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model_path),
        "--model_alias",
        MODEL_NAME,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "4096",
        "--n_batch",
        "512",
    ]


def _genius_server(workspace: Workspace, port: int) -> list[str]:
    return [
        *_genius_command(),
        "serve",
        "--backend",
        "llama",
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


def stream_with_openai(
    targets: dict[str, tuple[str, str]],
    prompts: list[str],
    rounds: int,
    max_tokens: int,
    env: Mapping[str, str],
) -> dict[str, list[dict[str, Any]]]:
    """Run the ``openai`` client in a subprocess against each ``label -> (url, model)``."""
    spec = {"targets": targets, "prompts": prompts, "rounds": rounds, "max_tokens": max_tokens}
    done = run_measured(
        [sys.executable, "-m", "benchmarks._worker", "openai", json.dumps(spec)],
        env=env,
        cwd=ROOT,
        timeout=900,
    ).check("the openai client")
    result: dict[str, list[dict[str, Any]]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_serve(workspace: Workspace, plan: Plan) -> list[Row]:
    target = ">= 0.98 decode, <= +5 ms TTFT"
    if not genius_serve_available():
        return [
            pending(
                "serve",
                "genius serve + openai vs llama_cpp.server",
                target,
                "not yet measured: `genius serve` is not built (`genius serve --help` fails)",
            )
        ]
    ours_env, reference_env = serve_environment(extra=False), serve_environment(extra=True)
    client_env = ours_env if not missing_modules(ours_env, "openai") else reference_env
    missing = missing_modules(client_env, "openai") + missing_modules(
        reference_env,
        "uvicorn",
        "fastapi",
        "sse_starlette",
        "starlette_context",
        "pydantic_settings",
    )
    if missing:
        return [
            pending(
                "serve",
                "genius serve + openai vs llama_cpp.server",
                target,
                f"not measured: {', '.join(missing)} not importable; install llama-cpp-python's "
                "server extra and openai, or name a directory holding them in "
                "BENCH_SERVE_PYTHONPATH",
            )
        ]
    model = MODELS["smollm2"]
    rounds = plan.rounds_or(3, 8)
    max_tokens = plan.pick(64, 128)
    ours_port, ref_port = _free_port(), _free_port()
    with (
        started_server(
            _genius_server(workspace, ours_port),
            ours_env,
            ours_port,
            workspace.root / "genius_serve.log",
        ) as ours,
        started_server(
            _llama_server(workspace.model_paths["smollm2"], ref_port),
            reference_env,
            ref_port,
            workspace.root / "llama_server.log",
        ) as ref,
    ):
        got = stream_with_openai(
            {"ours": (ours.url, model.alias), "reference": (ref.url, MODEL_NAME)},
            list(model.prompts),
            rounds,
            max_tokens,
            client_env,
        )
    same = [o["text"] == r["text"] for o, r in zip(got["ours"], got["reference"], strict=True)]
    note = "" if all(same) else f"text differed in {same.count(False)} of {len(same)} rounds"
    return [
        higher_is_better(
            measurement="serve",
            name="serve decode tok/s, genius serve vs llama_cpp.server (openai client)",
            ours=[s["rate"] for s in got["ours"]],
            reference=[s["rate"] for s in got["reference"]],
            unit="tok/s",
            target=DECODE_TARGET,
            note=note,
            samples={"max_tokens": max_tokens, "same_text": same, "runs": got},
        ),
        paired_delta(
            measurement="serve",
            name="serve TTFT, same prompt again (openai client)",
            ours=[s["again_ttft"] * 1e3 for s in got["ours"]],
            reference=[s["again_ttft"] * 1e3 for s in got["reference"]],
            unit="ms",
            max_delta=TTFT_TARGET_MS,
        ),
        paired_delta(
            measurement="serve",
            name="serve TTFT, new prompt (openai client)",
            ours=[s["ttft"] * 1e3 for s in got["ours"]],
            reference=[s["ttft"] * 1e3 for s in got["reference"]],
            unit="ms",
            max_delta=None,
        ),
    ]
