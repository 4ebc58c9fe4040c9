"""``genius serve``: the command line's options and the loop that serves until a signal.

SIGINT or SIGTERM stops the server gracefully (running requests get a few seconds,
then are cancelled) and the command exits 0.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import signal
from typing import TYPE_CHECKING, Any

import anyio

from facecrab import AssetAuthority
from rusty_genius_core import ConfigError
from rusty_genius_stem import (
    DEFAULT_MAX_QUEUE,
    DEFAULT_STOP_TIMEOUT,
    HibernateAfter,
    Immediate,
    KeepAlive,
)

from .._genius import Genius
from ._errors import RequestError
from ._keep_alive import parse_keep_alive
from ._parallel import add_parallel_options, parallel_setting, threads_setting
from ._server import (
    DEFAULT_BACKLOG,
    DEFAULT_HOST,
    DEFAULT_PORT,
    MAX_BACKLOG,
    listen_backlog_cap,
    open_server,
)
from ._settings import DEFAULT_BODY_TIMEOUT, HOSTS_ENV, ORIGINS_ENV

if TYPE_CHECKING:
    from collections.abc import Callable

    from rusty_genius_stem import CortexStrategy

__all__ = ["add_serve_options", "serve_command"]

_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?", re.IGNORECASE)
_UNITS = {"": 1, "b": 1} | {
    f"{p}{i}{b}": (1024 if i else 1000) ** (n + 1)
    for n, p in enumerate("kmgt")
    for i in ("", "i")
    for b in ("", "b")
}


def parse_memory_size(text: str) -> int:
    """Bytes from ``"8GiB"``, ``"512MB"``, ``"1.5G"`` or ``"1073741824"`` (``--max-memory``).

    ``KiB``/``MiB``/``GiB``/``TiB`` are powers of 1024, ``KB``/``MB``/``GB``/``TB`` (and
    a bare ``K``/``M``/``G``/``T``) powers of 1000. The size must be at least one byte.
    """
    match = _SIZE.fullmatch(text.strip())
    size = 0 if match is None else int(float(match[1]) * _UNITS[(match[2] or "").lower()])
    if size < 1:
        raise argparse.ArgumentTypeError(
            f"--max-memory must be a positive size such as 8GiB or 512MB, got {text!r}"
        )
    return size


def add_serve_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("server")
    group.add_argument("--host", default=DEFAULT_HOST, help=f"interface (default {DEFAULT_HOST})")
    group.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port, 0 for any (default {DEFAULT_PORT})"
    )
    _add_backlog_option(group)
    group.add_argument(
        "--api-key",
        metavar="KEY",
        help="require Authorization: Bearer KEY (default: env GENIUS_API_KEY, else none)",
    )
    group.add_argument(
        "--max-queue",
        type=int,
        default=DEFAULT_MAX_QUEUE,
        metavar="N",
        help=f"requests that may wait before 503 (default {DEFAULT_MAX_QUEUE})",
    )
    add_parallel_options(group)
    group.add_argument(
        "--max-loaded", type=int, default=1, metavar="N", help="models loaded at once"
    )
    group.add_argument(
        "--max-memory",
        type=parse_memory_size,
        metavar="SIZE",
        help="memory budget of the loaded models' weights, e.g. 8GiB (default: no limit)",
    )
    group.add_argument(
        "--keep-alive",
        metavar="DURATION",
        help='idle time before a model unloads: "5m" (default), "0" at once, "-1" never',
    )
    group.add_argument(
        "--remote",
        metavar="URL",
        help="answer with a remote OpenAI-compatible server instead of a local engine",
    )
    group.add_argument(
        "--remote-api-key",
        metavar="KEY",
        help="bearer token for --remote (default: env GENIUS_REMOTE_API_KEY)",
    )
    group.add_argument(
        "--stop-timeout",
        type=_stop_timeout,
        default=DEFAULT_STOP_TIMEOUT,
        metavar="SECONDS",
        help="time an engine has to stop a cancelled request before it is abandoned "
        f"(default {DEFAULT_STOP_TIMEOUT:g})",
    )
    _add_site_options(group)


def _llama_engines(
    backend: str, threads: int | None, cache_ram: int | None
) -> tuple[str, Callable[[], Any]]:
    """The backend's name and an engine factory whose llama engines use ``threads`` and
    keep ``cache_ram`` bytes of prompts (None: the engine's default)."""
    from rusty_genius_cortex import BACKEND_LLAMA, create_engine

    from .._backend import check_backend, resolve_auto

    chosen = resolve_auto(check_backend(backend))
    extra: dict[str, Any] = {}
    if chosen == BACKEND_LLAMA:
        given = {"default_threads": threads, "cache_ram": cache_ram}
        extra = {name: value for name, value in given.items() if value is not None}
    return chosen, lambda: create_engine(chosen, **extra)


def _stop_timeout(text: str) -> float:
    """Seconds for ``--stop-timeout``: a positive, finite number."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise argparse.ArgumentTypeError(
            f"--stop-timeout must be a positive number of seconds, got {text!r}"
        )
    return seconds


# -- the listen backlog (issue 18: bursts of connections) -----------------------------------


def _add_backlog_option(group: argparse._ArgumentGroup) -> None:
    cap = listen_backlog_cap()
    capped = f"; Linux caps it at net.core.somaxconn, {cap} here" if cap is not None else ""
    group.add_argument(
        "--backlog",
        type=int,
        metavar="N",
        help=f"connections queued before they are accepted, for bursts (default: env "
        f"GENIUS_BACKLOG, else {DEFAULT_BACKLOG}{capped})",
    )


def _backlog(given: int | None) -> int:
    """``--backlog``, else ``GENIUS_BACKLOG``, else the default; ConfigError when not 1..65535."""
    if given is None:
        text = os.environ.get("GENIUS_BACKLOG", "").strip()
        if not text:
            return DEFAULT_BACKLOG
        try:
            given = int(text)
        except ValueError:
            given = None
        where = f"GENIUS_BACKLOG={text!r}"
    else:
        where = f"--backlog {given}"
    if given is None or not 1 <= given <= MAX_BACKLOG:
        raise ConfigError(f"{where}: the listen backlog must be an integer from 1 to {MAX_BACKLOG}")
    return given


def _add_site_options(group: argparse._ArgumentGroup) -> None:
    """``--allow-host``, ``--allow-origin`` and ``--body-timeout`` (see ``_site``, ``_app``)."""
    group.add_argument(
        "--allow-host",
        action="append",
        metavar="HOSTS",
        help="Host names allowed beyond loopback and the bound address, a comma list; "
        f"* allows any (default: env {HOSTS_ENV})",
    )
    group.add_argument(
        "--allow-origin",
        action="append",
        metavar="ORIGINS",
        help="web origins allowed to call the API beyond the server's own, a comma list of "
        f"patterns such as http://localhost:*; * allows any (default: env {ORIGINS_ENV})",
    )
    group.add_argument(
        "--body-timeout",
        type=float,
        default=DEFAULT_BODY_TIMEOUT,
        metavar="SECONDS",
        help=f"time a request body may take to arrive, then 408 (default {DEFAULT_BODY_TIMEOUT:g})",
    )


def _app_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``create_app`` options of the site and body settings."""
    return {
        "body_timeout": args.body_timeout,
        "allow_hosts": args.allow_host or os.environ.get(HOSTS_ENV),
        "allow_origins": args.allow_origin or os.environ.get(ORIGINS_ENV),
    }


def _strategy(text: str | None) -> CortexStrategy | None:
    try:
        seconds = parse_keep_alive(text, "--keep-alive")
    except RequestError as exc:
        raise ConfigError(str(exc)) from None
    if seconds is None:
        return None
    if seconds == 0:
        return Immediate()
    if seconds < 0:
        return KeepAlive()
    return HibernateAfter(seconds)


async def serve_command(
    args: argparse.Namespace,
    *,
    info: Callable[[str], None],
    note: Callable[[str], None],
    emit: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Run ``genius serve`` with parsed ``args`` until SIGINT or SIGTERM."""
    # Here, not at import: the command line imports this module for every command.
    from rusty_genius_cortex import RemoteEngine

    from ._app import create_app

    api_key = args.api_key or os.environ.get("GENIUS_API_KEY") or None
    backlog = _backlog(args.backlog)
    options: dict[str, Any] = {
        "backend": args.backend,
        "max_queue": args.max_queue,
        "parallelism": parallel_setting(args.parallel),
        "max_loaded": args.max_loaded,
        "max_memory": args.max_memory,
        "strategy": _strategy(args.keep_alive),
        "stop_timeout": args.stop_timeout,
    }
    if args.remote:
        remote_key = args.remote_api_key or os.environ.get("GENIUS_REMOTE_API_KEY") or None
        RemoteEngine(args.remote, api_key=remote_key)  # a bad URL fails now, not per request
        options["engine_factory"] = lambda: RemoteEngine(args.remote, api_key=remote_key)
    shown = f"remote {args.remote}" if args.remote else None
    threads = threads_setting(args.threads)
    if (threads is not None or args.cache_ram is not None) and not args.remote:
        shown, options["engine_factory"] = _llama_engines(args.backend, threads, args.cache_ram)
    authority = AssetAuthority(home=args.home, cache=args.cache, endpoint=args.endpoint)
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with (
            authority as assets,
            Genius(assets=assets, **options) as genius,
            open_server(
                create_app(genius, api_key=api_key, **_app_options(args)),
                host=args.host,
                port=args.port,
                backlog=backlog,
            ) as at,
        ):
            backend = shown or genius.backend
            if emit is not None:
                emit({"type": "serving", "url": at.url, "backend": backend})
            info(
                f"serving on {at.url} (backend {backend}): chat page at {at.url}/, "
                f"OpenAI at {at.url}/v1, Ollama at {at.url}/api; Ctrl-C stops"
            )
            if args.host not in _LOOPBACK and api_key is None:
                note(f"{args.host} is reachable from other machines and no API key is set")
            async for received in signals:
                info(f"stopping ({signal.Signals(received).name})")
                break
    info("stopped")
