"""``genius``: pull, list, run and chat with local models from the command line.

Exit codes: 0 success; 2 bad input (usage, a malformed or unknown model reference,
``ManifestError``, ``ConfigError``, ``ProtocolError``); 1 a failure at run time
(``AssetError``, ``EngineError``, …); 130 interrupted (Ctrl-C). Errors print one
line, ``genius: error: …``; ``--debug`` adds the traceback.

The event loop is asyncio unless ``GENIUS_ASYNC_BACKEND=trio``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any, Final, NoReturn, TextIO

import anyio
import anyio.from_thread
import anyio.to_thread

from facecrab import DEFAULT_MODEL, AssetAuthority, ModelNotFoundError, OfflineError
from rusty_genius_core import (
    AssetComplete,
    AssetFailed,
    AssetProgress,
    AssetStarted,
    ChatMessage,
    Complete,
    ConfigError,
    Content,
    GeniusError,
    InferenceConfig,
    ManifestError,
    ModelReference,
    ProtocolError,
    Role,
    Sampling,
    Thought,
    ThoughtDelta,
    ThoughtStart,
    ThoughtStop,
    Usage,
    to_dict,
)
from rusty_genius_cortex import read_gguf_info

from ._answer import AnswerBuilder
from ._backend import DEFAULT_PROBE_TIMEOUT, BackendName, choose_backend
from ._genius import Genius
from ._progress import ProgressBar, format_size
from ._serve._command import add_serve_options, serve_command

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from rusty_genius_core import ModelStatus

    from ._genius import InferenceStream, MessageLike

__all__ = ["EXIT_FAILURE", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]

EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130

_BAD_INPUT: Final = (ManifestError, ConfigError, ProtocolError, ModelNotFoundError)
_ASYNC_BACKENDS: Final = ("asyncio", "trio")
_DIM: Final = "\x1b[2m"
_RESET: Final = "\x1b[0m"

_EPILOG: Final = f"""\
REF is a model alias (`genius list` shows downloaded ones; built in: {DEFAULT_MODEL},
smollm2-135m-instruct, …) or a Hugging Face repo with an optional quantization,
e.g. HuggingFaceTB/SmolLM2-135M-Instruct-GGUF:Q4_1. `run` and `chat` default to
{DEFAULT_MODEL}.

--backend auto (the default) answers with llama.cpp when llama-cpp-python is
installed and the model is downloaded or the hub (HF_ENDPOINT) is reachable;
otherwise with the Pinky stub engine, after a one-line note on stderr.

environment: GENIUS_HOME (registry, manifest.toml), GENIUS_CACHE (model files),
HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE, GENIUS_ASYNC_BACKEND=asyncio|trio, NO_COLOR,
GENIUS_API_KEY and GENIUS_REMOTE_API_KEY (serve).
exit codes: 0 ok, 1 failure, 2 bad input, 130 interrupted."""


class _UsageError(Exception):
    """Bad command-line input found after parsing (exit 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line, ``genius: error: …``, and exit 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"genius: error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(EXIT_USAGE)


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
    rm = command("rm", "delete a downloaded model")
    rm.add_argument("ref", metavar="REF")
    run = command(
        "run",
        "answer one prompt, streamed (PROMPT '-' or none reads stdin)",
        usage="genius run [options] [REF] [PROMPT]",
    )
    run.add_argument("words", nargs="*", metavar="[REF] [PROMPT]", help=argparse.SUPPRESS)
    _inference_options(run)
    chat = command("chat", "chat interactively; reads stdin, /exit ends, /help lists commands")
    chat.add_argument("ref", nargs="?", metavar="REF")
    _inference_options(chat)
    command("ps", "show the models this process has loaded and when they unload")
    info = command("info", "show a downloaded model's GGUF metadata")
    info.add_argument("ref", metavar="REF")
    serve = command(
        "serve", "serve OpenAI- and Ollama-compatible HTTP (loopback by default) until Ctrl-C"
    )
    add_serve_options(serve)
    return parser


# -- output -------------------------------------------------------------------------------


class _Output:
    """stdout for answers and data, stderr for progress, notes and errors."""

    def __init__(self, *, as_json: bool, stdout: TextIO, stderr: TextIO) -> None:
        self.json = as_json
        self.stdout = stdout
        self.stderr = stderr
        color = "NO_COLOR" not in os.environ
        self.out_tty = color and stdout.isatty()
        self.err_tty = stderr.isatty()
        self.err_color = color and self.err_tty

    def emit(self, data: dict[str, Any]) -> None:
        self.stdout.write(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n")
        self.stdout.flush()

    def note(self, text: str) -> None:
        self.stderr.write(f"genius: note: {text}\n")
        self.stderr.flush()

    def info(self, text: str) -> None:
        self.stderr.write(f"genius: {text}\n")
        self.stderr.flush()

    def write(self, text: str, *, dim: bool = False) -> None:
        if dim and self.out_tty:
            text = f"{_DIM}{text}{_RESET}"
        self.stdout.write(text)
        self.stdout.flush()

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
            self.stdout.write("  ".join(cells).rstrip() + "\n")
        self.stdout.flush()


class _Renderer:
    """Writes one request's events: progress, thoughts (dim), content, a usage line."""

    def __init__(self, out: _Output, *, hide_thinking: bool) -> None:
        self.out = out
        self.hide_thinking = hide_thinking
        self.progress = ProgressBar(out.stderr, tty=out.err_tty, quiet_cached=True)
        self.at_line_start = True
        self.usage: Usage | None = None

    def event(self, event: object) -> None:
        if self.out.json:
            self.out.emit(to_dict(event))
            if isinstance(event, Complete):
                self.usage = event.usage
            return
        if isinstance(event, AssetStarted | AssetProgress | AssetComplete | AssetFailed):
            self.progress.event(event)
        elif isinstance(event, Thought):
            if not self.hide_thinking:
                self._thought(event)
        elif isinstance(event, Content):
            if event.text:
                self._text(event.text)
        elif isinstance(event, Complete):
            self.usage = event.usage
            if not self.at_line_start:
                self._text("\n")

    def _thought(self, thought: Thought) -> None:
        inner = thought.event
        if isinstance(inner, ThoughtStart):
            self._text("Thinking...\n", dim=True)
        elif isinstance(inner, ThoughtDelta):
            self._text(inner.text, dim=True)
        elif isinstance(inner, ThoughtStop):
            self._text(("" if self.at_line_start else "\n") + "...done thinking.\n\n", dim=True)

    def _text(self, text: str, *, dim: bool = False) -> None:
        if text:
            self.out.write(text, dim=dim)
            self.at_line_start = text.endswith("\n")

    def usage_line(self) -> None:
        usage = self.usage
        if usage is None or self.out.json:
            return
        parts = [f"{usage.completion_tokens} tokens (prompt {usage.prompt_tokens})"]
        if usage.time_to_first_token is not None:
            parts.append(f"ttft {usage.time_to_first_token:.3f} s")
        parts.append(f"{usage.decode_tokens_per_second:.1f} tok/s")
        if usage.load_duration:
            parts.append(f"load {usage.load_duration:.2f} s")
        parts.append(f"finish {usage.finish_reason.value}")
        line = "genius: " + ", ".join(parts)
        if self.out.err_color:
            line = f"{_DIM}{line}{_RESET}"
        self.out.stderr.write(line + "\n")
        self.out.stderr.flush()


# -- commands -----------------------------------------------------------------------------


def _authority(args: argparse.Namespace) -> AssetAuthority:
    return AssetAuthority(home=args.home, cache=args.cache, endpoint=args.endpoint)


def _check_reference(text: str) -> str:
    ModelReference.parse(text)  # ManifestError for a malformed reference: exit 2
    return text.strip()


async def _pull(args: argparse.Namespace, out: _Output) -> None:
    ref = _check_reference(args.ref)
    progress = ProgressBar(out.stderr, tty=out.err_tty)
    async with _authority(args) as assets, Genius(backend=args.backend, assets=assets) as genius:
        try:
            async with genius.pull(ref) as events:
                async for event in events:
                    if out.json:
                        out.emit(to_dict(event))
                    else:
                        progress.event(event)
                    if isinstance(event, AssetComplete) and not out.json:
                        out.stdout.write(event.path + "\n")
                        out.stdout.flush()
        finally:
            progress.close()


async def _list(args: argparse.Namespace, out: _Output) -> None:
    async with _authority(args) as assets, Genius(backend=args.backend, assets=assets) as genius:
        models = [m for m in await genius.list_models() if m.downloaded]
    if out.json:
        for model in models:
            out.emit(to_dict(model))
        return
    if not models:
        out.info("no models downloaded yet; try `genius pull REF`")
        return
    rows = [
        [m.name, m.quantization, format_size(m.size) if m.size is not None else "?", m.path or ""]
        for m in models
    ]
    out.table(["NAME", "QUANT", "SIZE", "PATH"], rows)


async def _rm(args: argparse.Namespace, out: _Output) -> None:
    ref = _check_reference(args.ref)
    async with _authority(args) as assets, Genius(backend=args.backend, assets=assets) as genius:
        removed = await genius.remove_model(ref)
    if not removed:
        raise GeniusError(f"model {ref!r} is not downloaded; nothing to remove")
    if out.json:
        out.emit({"type": "removed", "model": ref})
    else:
        out.info(f"removed {ref}")


def _until(status: ModelStatus) -> str:
    if status.expires_at is None:
        return "forever"
    left = status.expires_at - time.time()
    if left < 60:
        return f"in {max(0, round(left))} seconds"
    return f"in {round(left / 60)} minutes"


def _show_ps(models: Sequence[ModelStatus], out: _Output) -> None:
    if out.json:
        for model in models:
            out.emit(to_dict(model))
        return
    if not models:
        out.info("no model is loaded in this process")
        return
    out.table(
        ["NAME", "SIZE", "UNTIL"],
        [[m.name, format_size(m.size) if m.size else "-", _until(m)] for m in models],
    )


async def _ps(args: argparse.Namespace, out: _Output) -> None:
    async with _authority(args) as assets, Genius(backend=args.backend, assets=assets) as genius:
        models = await genius.ps()
    _show_ps(models, out)
    if not models and not out.json:
        out.info("(each genius command runs its own brainstem; use /ps inside `genius chat`)")


async def _info(args: argparse.Namespace, out: _Output) -> None:
    ref = _check_reference(args.ref)
    offline = AssetAuthority(home=args.home, cache=args.cache, endpoint=args.endpoint, offline=True)
    async with offline:
        try:
            local = await offline.ensure_model(ref)
        except OfflineError:
            raise GeniusError(
                f"model {ref!r} is not downloaded; run `genius pull {ref}` first"
            ) from None
    info = await anyio.to_thread.run_sync(read_gguf_info, local.path)
    data: dict[str, Any] = {
        "type": "gguf_info",
        "model": local.spec.reference,
        "path": str(local.path),
        "size": local.spec.size,
        "architecture": info.architecture,
        "name": info.name,
        "size_label": info.size_label,
        "parameter_count": info.parameter_count,
        "context_length": info.context_length,
        "block_count": info.block_count,
        "quantization": info.quantization,
        "file_type": info.file_type,
        "chat_template": info.has_chat_template,
        "gguf_version": info.version,
        "tensor_count": info.tensor_count,
    }
    if out.json:
        out.emit(data)
        return
    size = local.spec.size
    rows = [
        ["model", local.spec.reference],
        ["path", str(local.path)],
        ["size", format_size(size) if size is not None else "?"],
        ["architecture", info.architecture or "?"],
        ["name", info.name or "?"],
        ["parameters", info.size_label or (str(info.parameter_count or "") or "?")],
        ["context length", str(info.context_length or "?")],
        ["layers", str(info.block_count or "?")],
        ["quantization", info.quantization or f"file type {info.file_type}"],
        ["chat template", "yes" if info.has_chat_template else "no"],
        ["gguf", f"v{info.version}, {info.tensor_count} tensors"],
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        out.stdout.write(f"{key.ljust(width)}  {value}\n")
    out.stdout.flush()


def _config(args: argparse.Namespace) -> InferenceConfig:
    sampling: dict[str, Any] = {}
    for flag in ("temperature", "top_p", "top_k"):
        value = getattr(args, flag)
        if value is not None:
            sampling[flag] = value
    if sampling.get("temperature") == 0.0:
        greedy = Sampling.greedy()
        sampling = {"top_p": greedy.top_p, "top_k": greedy.top_k, "min_p": 0.0, **sampling}
    behaviour: dict[str, Any] = {
        "stop": tuple(args.stop),
        "raw": args.raw,
        "show_thinking": not args.hide_thinking,
    }
    for flag in ("max_tokens", "seed", "context_size"):
        value = getattr(args, flag)
        if value is not None:
            behaviour[flag] = value
    return InferenceConfig(sampling=Sampling(**sampling), **behaviour)


async def _prepare(
    args: argparse.Namespace, out: _Output, assets: AssetAuthority, ref: str
) -> BackendName:
    """Check ``ref`` offline (an unknown alias is bad input) and pick the engine."""
    with contextlib.suppress(OfflineError):  # a repo the hub must list first: the load fetches it
        await assets.resolve(ref, network=False)
    choice = await choose_backend(args.backend, ref, assets, probe_timeout=DEFAULT_PROBE_TIMEOUT)
    if choice.notice:  # on stderr, also with --json: stdout stays events only
        out.note(choice.notice)
    return choice.backend


async def _stream(stream: InferenceStream, renderer: _Renderer) -> AnswerBuilder:
    builder = AnswerBuilder(stream.command.model)
    try:
        async with stream:
            async for event in stream:
                renderer.event(event)
                if not isinstance(
                    event, AssetStarted | AssetProgress | AssetComplete | AssetFailed
                ):
                    builder.feed(event)
    finally:
        renderer.progress.close()
    return builder


async def _read_stdin(read: Callable[[], str]) -> str:
    """``read()`` from stdin in a daemon thread, so that Ctrl-C never waits for input.

    A thread blocked on a terminal or an idle pipe cannot be interrupted; an anyio worker
    would hold up cancellation (or, abandoned, the interpreter's exit) until a line came.
    """
    outcome: list[str | BaseException] = []
    async with anyio.from_thread.BlockingPortal() as portal:
        done = anyio.Event()

        def work() -> None:
            try:
                outcome.append(read())
            except BaseException as exc:  # handed to the event loop's side below
                outcome.append(exc)
            finally:
                with contextlib.suppress(RuntimeError):  # the portal is gone: nobody waits
                    portal.call(done.set)

        threading.Thread(target=work, name="genius-stdin", daemon=True).start()
        await done.wait()
    [result] = outcome
    if isinstance(result, BaseException):
        raise result
    return result


async def _run(args: argparse.Namespace, out: _Output) -> None:
    words: list[str] = list(args.words)
    if len(words) > 2:
        raise _UsageError(f"run takes [REF] [PROMPT], got {len(words)} arguments; quote the prompt")
    ref = _check_reference(words[0] if len(words) == 2 else DEFAULT_MODEL)
    prompt = words[-1] if len(words) in (1, 2) else "-"
    if prompt == "-":
        if sys.stdin.isatty():
            raise _UsageError("run needs a PROMPT (or '-' with the prompt on stdin)")
        if args.debug:
            out.info("reading the prompt from stdin")
        prompt = await _read_stdin(sys.stdin.read)
    if not prompt.strip():
        raise _UsageError("the prompt is empty")
    config = _config(args)
    async with _authority(args) as assets:
        backend = await _prepare(args, out, assets, ref)
        async with Genius(backend=backend, assets=assets) as genius:
            renderer = _Renderer(out, hide_thinking=args.hide_thinking)
            if args.system is not None:
                messages: list[MessageLike] = [
                    ChatMessage(role=Role.SYSTEM, content=args.system),
                    ChatMessage(role=Role.USER, content=prompt),
                ]
                stream = genius.infer(ref, messages, config=config, keep_alive=args.keep_alive)
            else:
                stream = genius.infer(ref, prompt, config=config, keep_alive=args.keep_alive)
            await _stream(stream, renderer)
            renderer.usage_line()


_CHAT_HELP: Final = "commands: /exit (or /bye, Ctrl-D) ends, /clear forgets the conversation, /ps shows loaded models"


async def _chat(args: argparse.Namespace, out: _Output) -> None:
    ref = _check_reference(args.ref or DEFAULT_MODEL)
    config = _config(args)
    interactive = sys.stdin.isatty()
    system = [ChatMessage(role=Role.SYSTEM, content=args.system)] if args.system else []
    history: list[ChatMessage] = list(system)
    async with _authority(args) as assets:
        backend = await _prepare(args, out, assets, ref)
        async with Genius(backend=backend, assets=assets) as genius:
            if interactive and not out.json:
                out.info(f"chatting with {ref} ({backend}); {_CHAT_HELP}")
            while True:
                if interactive:
                    out.stderr.write(">>> ")
                    out.stderr.flush()
                line = await _read_stdin(sys.stdin.readline)
                if not line:
                    if interactive:
                        out.stderr.write("\n")
                    break
                text = line.rstrip("\r\n")
                command = text.strip()
                if not command:
                    continue
                if command in ("/exit", "/bye", "/quit"):
                    break
                if command == "/clear":
                    history = list(system)
                    continue
                if command == "/ps":
                    _show_ps(await genius.ps(), out)
                    continue
                if command in ("/help", "/?"):
                    out.info(_CHAT_HELP)
                    continue
                history.append(ChatMessage(role=Role.USER, content=text))
                renderer = _Renderer(out, hide_thinking=args.hide_thinking)
                stream = genius.infer(ref, history, config=config, keep_alive=args.keep_alive)
                answer = (await _stream(stream, renderer)).build()
                renderer.usage_line()
                history.append(ChatMessage(role=Role.ASSISTANT, content=answer.content))


async def _serve(args: argparse.Namespace, out: _Output) -> None:
    await serve_command(args, info=out.info, note=out.note, emit=out.emit if out.json else None)


_COMMANDS: Final = {
    "pull": _pull,
    "list": _list,
    "rm": _rm,
    "run": _run,
    "chat": _chat,
    "ps": _ps,
    "info": _info,
    "serve": _serve,
}


# -- entry point --------------------------------------------------------------------------


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _exit_code(exc: BaseException) -> int:
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, (_UsageError, *_BAD_INPUT)):
        return EXIT_USAGE
    return EXIT_FAILURE


def _describe(exc: BaseException) -> str:
    if isinstance(exc, GeniusError | _UsageError):
        return str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)"


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
    out = _Output(as_json=args.json, stdout=sys.stdout, stderr=sys.stderr)
    try:
        anyio.run(_COMMANDS[args.command], args, out, backend=async_backend)
    except BaseException as raised:
        if isinstance(raised, SystemExit):
            raise
        leaves = _leaves(raised)
        interrupted = next((e for e in leaves if isinstance(e, KeyboardInterrupt)), None)
        failure = interrupted or (leaves[0] if len(leaves) == 1 else raised)
        if isinstance(failure, BrokenPipeError):  # stdout closed early (`genius run … | head`)
            _silence_stdout()
            return EXIT_FAILURE
        code = _exit_code(failure)
        if args.debug:
            traceback.print_exception(raised)
        if code == EXIT_INTERRUPTED:
            sys.stderr.write("genius: interrupted\n")
        else:
            if out.json:
                _emit_error(out, failure)
            sys.stderr.write(f"genius: error: {_describe(failure)}\n")
        sys.stderr.flush()
        return code
    return EXIT_OK


def _emit_error(out: _Output, exc: BaseException) -> None:
    kind = type(exc).__name__
    with contextlib.suppress(OSError):
        out.emit({"type": "error", "kind": kind, "message": _describe(exc)})


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at devnull so the interpreter's flush stays quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
