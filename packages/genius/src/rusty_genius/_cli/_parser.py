"""The ``genius`` argument parser: commands, options and their help text.

This module only declares; :mod:`._parsed` reads what it parsed into typed commands.
Each command's parser is set up the first time it is used (:class:`_LazyParser`), so
``genius run`` builds ``run``'s alone while ``genius --help`` still lists every command.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, Final, NoReturn

from facecrab import DEFAULT_MODEL

from ._exit import EXIT_USAGE

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["build_parser"]

_EPILOG: Final = f"""\
REF is a model alias (`genius list` shows downloaded ones; built in: {DEFAULT_MODEL},
smollm2-135m-instruct, …) or a Hugging Face repo with an optional quantization,
e.g. HuggingFaceTB/SmolLM2-135M-Instruct-GGUF:Q4_1. `run` and `chat` default to
{DEFAULT_MODEL}.

--backend auto (the default) answers with llama.cpp when llama-cpp-python is
installed and the model is downloaded or the hub (HF_ENDPOINT) is reachable;
otherwise with the Pinky stub engine, after a one-line note on stderr.

environment: GENIUS_HOME (registry, manifest.toml), GENIUS_CACHE (model files),
GENIUS_HOST (where `genius serve` runs, host:port or a URL; default 127.0.0.1:8080: when
one answers there, the commands are its clients, so models stay loaded between them),
HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE, GENIUS_ASYNC_BACKEND=asyncio|trio, NO_COLOR,
GENIUS_STALL_TIMEOUT, GENIUS_MIN_RATE, GENIUS_ATTEMPT_DEADLINE (downloads);
GENIUS_API_KEY (serve requires it as a bearer token; the other commands send it),
GENIUS_REMOTE_API_KEY, GENIUS_HOSTS, GENIUS_ORIGINS, GENIUS_BACKLOG (serve).
exit codes: 0 ok, 1 failure, 2 bad input, 130 interrupted."""


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line, ``genius: error: …``, and exit 2."""

    def error(self, message: str) -> NoReturn:
        from ._suggest import usage_hint  # only for a usage error

        hint = usage_hint(message, self._every_option())
        sys.stderr.write(f"genius: error: {message}{hint} (see '{self.prog} --help')\n")
        raise SystemExit(EXIT_USAGE)

    def _every_option(self) -> list[str]:
        """The long options of this parser and of its commands' parsers."""
        found = [o for o in self._option_string_actions if o.startswith("--")]
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    found += [o for o in sub._option_string_actions if o.startswith("--")]
        return sorted(set(found))


class _LazyParser(_Parser):
    """A parser set up on first use: created with its arguments' ``declare`` function,
    it runs ``ArgumentParser.__init__`` and ``declare`` at the first lookup of an instance
    attribute, which is the first thing parsing, help, usage or ``add_argument`` does.

    Building a parser costs a few gettext lookups and every ``add_argument``; ``genius``
    has ten command parsers and one run uses one of them.
    """

    def __init__(
        self, *, declare: Callable[[argparse.ArgumentParser], None] | None = None, **kwargs: Any
    ) -> None:
        vars(self)["_pending"] = (declare, kwargs)

    def __getattr__(self, name: str) -> Any:
        pending = vars(self).pop("_pending", None)
        if pending is None:  # set up already (or being set up): a missing attribute
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        declare, kwargs = pending
        super().__init__(**kwargs)
        if declare is not None:
            declare(self)
        return getattr(self, name)


def _common_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Options accepted before or after the command (``suppress`` keeps the first value)."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument(
        "--backend",
        choices=("auto", "pinky", "llama"),
        default=default("auto"),
        help="engine: llama.cpp, the Pinky stub, or auto (default)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="print one JSON object per event or row on stdout",
    )
    parser.add_argument(
        "--debug", action="store_true", default=default(False), help="show tracebacks"
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default(False),
        help="say where each command runs (a server, or in-process)",
    )
    parser.add_argument(
        "--home", metavar="DIR", default=default(None), help="registry directory (GENIUS_HOME)"
    )
    parser.add_argument(
        "--cache", metavar="DIR", default=default(None), help="model file directory (GENIUS_CACHE)"
    )
    parser.add_argument(
        "--endpoint", metavar="URL", default=default(None), help="Hugging Face hub (HF_ENDPOINT)"
    )


def _inference_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("generation")
    group.add_argument("--temperature", type=float, metavar="T", help="0 is greedy")
    group.add_argument("--top-p", type=float, metavar="P")
    group.add_argument("--top-k", type=int, metavar="K")
    group.add_argument("--max-tokens", type=int, metavar="N", help="default 512")
    group.add_argument("--seed", type=int, metavar="N")
    group.add_argument(
        "--stop", action="append", default=[], metavar="TEXT", help="stop string (repeatable)"
    )
    group.add_argument("--context-size", type=int, metavar="N")
    group.add_argument("--system", metavar="TEXT", help="system prompt")
    group.add_argument("--raw", action="store_true", help="raw completion: no chat template")
    group.add_argument(
        "--hide-thinking", action="store_true", help="do not show the model's <think> text"
    )
    group.add_argument(
        "--keep-alive", type=float, metavar="SECONDS", help="how long the model stays loaded"
    )


def _ref(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ref", metavar="REF")


def _create_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME")
    parser.add_argument(
        "-f", "--file", default="Modelfile", metavar="PATH", help="the Modelfile (./Modelfile)"
    )


def _cp_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE")
    parser.add_argument("destination", metavar="DESTINATION")


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("words", nargs="*", metavar="[REF] [PROMPT]", help=argparse.SUPPRESS)
    _inference_options(parser)


def _chat_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ref", nargs="?", metavar="REF")
    _inference_options(parser)


def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    from .._serve._command import add_serve_options  # the server's modules: only for serve

    add_serve_options(parser)


def build_parser() -> argparse.ArgumentParser:
    """The ``genius`` parser; :func:`~._parsed.parse_command` turns its result into a command."""
    common = _LazyParser(add_help=False, declare=lambda p: _common_options(p, suppress=True))
    parser = _Parser(
        prog="genius",
        description="Local LLM inference: pull GGUF models and run them, streamed.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common_options(parser, suppress=False)
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_LazyParser
    )

    def command(
        name: str,
        help_text: str,
        usage: str | None = None,
        declare: Callable[[argparse.ArgumentParser], None] | None = None,
    ) -> argparse.ArgumentParser:
        """Declare command ``name``; ``declare`` adds its arguments when it is first used."""
        sub: argparse.ArgumentParser = commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            parents=[common],
            usage=usage,
            declare=declare,
        )
        return sub

    command("pull", "download a model (a cut download resumes)", declare=_ref)
    command("list", "list downloaded models")
    command("rm", "delete a downloaded model, or forget a created one", declare=_ref)
    command(
        "create",
        "create a model from a Modelfile (FROM, ADAPTER, SYSTEM, ...)",
        declare=_create_arguments,
    )
    command(
        "cp", "copy a model under another name (a created model over it)", declare=_cp_arguments
    )
    command(
        "run",
        "answer one prompt, streamed (PROMPT '-' reads stdin; none on a terminal: chat)",
        usage="genius run [options] [REF] [PROMPT]",
        declare=_run_arguments,
    )
    command(
        "chat",
        "chat interactively; /bye or exit ends, /? lists commands",
        declare=_chat_arguments,
    )
    command("ps", "show the loaded models and when they unload")
    command("stop", "unload a model on the running server", declare=_ref)
    command("info", "show a downloaded model's GGUF metadata", declare=_ref)
    command(
        "serve",
        "serve OpenAI- and Ollama-compatible HTTP (loopback by default) until Ctrl-C",
        declare=_serve_arguments,
    )
    return parser
