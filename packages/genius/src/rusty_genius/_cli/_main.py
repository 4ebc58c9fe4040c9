"""``main``: parse, run the command in an event loop, and turn a failure into an exit code.

``console_main`` is the ``genius`` command itself (and ``python -m rusty_genius``).
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import traceback
from typing import TYPE_CHECKING, Final

import anyio

from rusty_genius_core import exception_leaves

from ._commands import execute
from ._exit import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, describe, exit_code
from ._parsed import parse_command, parse_options
from ._parser import build_parser
from ._render import Output

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["console_main", "main"]

_ASYNC_BACKENDS: Final = ("asyncio", "trio")


def console_main() -> int:
    """The ``genius`` process: :func:`main` on ``sys.argv``, after freezing the collector.

    What start-up made (every imported module, class and function) lives as long as the
    process, yet each full collection walks it again: importing and loading llama.cpp in
    ``genius run`` triggered two, about 13 ms of a SmolLM2 cold start. ``gc.freeze()``
    (meant for this) leaves those objects out of later collections. Only here, where the
    process is ours: :func:`main` is also called from tests and other programs.
    """
    gc.freeze()
    return main()


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``genius`` with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    async_backend = os.environ.get("GENIUS_ASYNC_BACKEND", "asyncio") or "asyncio"
    if async_backend not in _ASYNC_BACKENDS:
        sys.stderr.write(
            f"genius: error: GENIUS_ASYNC_BACKEND={async_backend!r} is not one of asyncio, trio\n"
        )
        return EXIT_USAGE
    options = parse_options(args)
    out = Output(as_json=options.json, stdout=sys.stdout, stderr=sys.stderr)
    try:
        command = parse_command(args, options)
        anyio.run(execute, command, out, backend=async_backend)
    except BaseException as raised:
        if isinstance(raised, SystemExit):
            raise
        return _failed(raised, out, debug=options.debug)
    return EXIT_OK


def _failed(raised: BaseException, out: Output, *, debug: bool) -> int:
    """Report ``raised`` (perhaps a group from a task group) and return the exit code."""
    leaves = exception_leaves(raised)
    interrupted = next((e for e in leaves if isinstance(e, KeyboardInterrupt)), None)
    failure = interrupted or (leaves[0] if len(leaves) == 1 else raised)
    if isinstance(failure, BrokenPipeError):  # stdout closed early (`genius run … | head`)
        _silence_stdout()
        return EXIT_FAILURE
    code = exit_code(failure)
    if debug:
        traceback.print_exception(raised)
    if code == EXIT_INTERRUPTED:
        out.stderr.write("genius: interrupted\n")
        out.stderr.flush()
        return code
    if out.json:
        with contextlib.suppress(OSError):
            out.emit(
                {"type": "error", "kind": type(failure).__name__, "message": describe(failure)}
            )
    out.error(describe(failure))
    return code


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at devnull so the interpreter's flush stays quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
