"""The ``genius`` argument parser: commands, options and their help text.

This module only declares; :mod:`._parsed` reads what it parsed into typed commands.
"""

from __future__ import annotations

import argparse
import sys
from typing import Final, NoReturn

from facecrab import DEFAULT_MODEL

from .._serve._command import add_serve_options
from ._exit import EXIT_USAGE
from ._suggest import usage_hint

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


def build_parser() -> argparse.ArgumentParser:
    """The ``genius`` parser; :func:`~._parsed.parse_command` turns its result into a command."""
    common = _Parser(add_help=False)
    _common_options(common, suppress=True)
    parser = _Parser(
        prog="genius",
        description="Local LLM inference: pull GGUF models and run them, streamed.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str, usage: str | None = None) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = commands.add_parser(
            name, help=help_text, description=help_text, parents=[common], usage=usage
        )
        return sub

    pull = command("pull", "download a model (a cut download resumes)")
    pull.add_argument("ref", metavar="REF")
    command("list", "list downloaded models")
    rm = command("rm", "delete a downloaded model, or forget a created one")
    rm.add_argument("ref", metavar="REF")
    create = command("create", "create a model from a Modelfile (FROM, ADAPTER, SYSTEM, ...)")
    create.add_argument("name", metavar="NAME")
    create.add_argument(
        "-f", "--file", default="Modelfile", metavar="PATH", help="the Modelfile (./Modelfile)"
    )
    cp = command("cp", "copy a model under another name (a created model over it)")
    cp.add_argument("source", metavar="SOURCE")
    cp.add_argument("destination", metavar="DESTINATION")
    run = command(
        "run",
        "answer one prompt, streamed (PROMPT '-' reads stdin; none on a terminal: chat)",
        usage="genius run [options] [REF] [PROMPT]",
    )
    run.add_argument("words", nargs="*", metavar="[REF] [PROMPT]", help=argparse.SUPPRESS)
    _inference_options(run)
    chat = command("chat", "chat interactively; /bye or exit ends, /? lists commands")
    chat.add_argument("ref", nargs="?", metavar="REF")
    _inference_options(chat)
    command("ps", "show the loaded models and when they unload")
    stop = command("stop", "unload a model on the running server")
    stop.add_argument("ref", metavar="REF")
    info = command("info", "show a downloaded model's GGUF metadata")
    info.add_argument("ref", metavar="REF")
    serve = command(
        "serve", "serve OpenAI- and Ollama-compatible HTTP (loopback by default) until Ctrl-C"
    )
    add_serve_options(serve)
    return parser
