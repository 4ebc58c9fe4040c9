"""What the command line prints: answers and data on stdout (text or JSON), the rest on stderr.

stdout carries only answers and rows (one JSON object per event or row with ``--json``);
progress bars, notes, usage lines, the chat prompt and errors go to stderr.
"""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING, Any, Final, TextIO

from rusty_genius_core import (
    AssetComplete,
    AssetFailed,
    AssetProgress,
    AssetStarted,
    Complete,
    Content,
    Thought,
    ThoughtDelta,
    ThoughtStart,
    ThoughtStop,
    Usage,
    to_dict,
)

from .._progress import ProgressBar, format_size

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from facecrab import LocalModel
    from rusty_genius_core import ModelStatus
    from rusty_genius_cortex import GgufInfo

__all__ = [
    "CHAT_HELP",
    "ChatView",
    "EventRenderer",
    "Output",
    "info_record",
    "show_info",
    "show_models",
    "show_ps",
]

_DIM: Final = "\x1b[2m"
_RESET: Final = "\x1b[0m"

CHAT_HELP: Final = "/bye (or exit, Ctrl-D) ends, /? lists the commands"


class Output:
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

    def error(self, text: str) -> None:
        self.stderr.write(f"genius: error: {text}\n")
        self.stderr.flush()

    def write(self, text: str, *, dim: bool = False) -> None:
        if dim and self.out_tty:
            text = f"{_DIM}{text}{_RESET}"
        self.stdout.write(text)
        self.stdout.flush()

    def line(self, text: str) -> None:
        """One line of data on stdout."""
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
            self.stdout.write("  ".join(cells).rstrip() + "\n")
        self.stdout.flush()


class EventRenderer:
    """Writes one request's events: progress, thoughts (dim), content, a usage line."""

    def __init__(self, out: Output, *, hide_thinking: bool) -> None:
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

    def close(self) -> None:
        self.progress.close()

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


class ChatView:
    """The chat loop's own printing: a greeting, the ``>>>`` prompt, help (all on stderr).

    Only an interactive chat (stdin a terminal) greets and prompts; piped input is read
    silently, so stdout holds the answers alone.
    """

    def __init__(self, out: Output, *, interactive: bool) -> None:
        self.out = out
        self.interactive = interactive

    def greet(self, model: str, where: str) -> None:
        if self.interactive and not self.out.json:
            self.out.info(f"chatting with {model} ({where}); {CHAT_HELP}")

    def prompt(self, text: str = ">>> ") -> None:
        if self.interactive:
            self.out.stderr.write(text)
            self.out.stderr.flush()

    def end(self) -> None:
        """stdin ended (Ctrl-D): end the prompt's line."""
        if self.interactive:
            self.out.stderr.write("\n")
            self.out.stderr.flush()


def show_models(models: Sequence[ModelStatus], out: Output) -> None:
    """``genius list``: the downloaded models."""
    _show_statuses(
        models,
        out,
        ["NAME", "QUANT", "SIZE", "PATH"],
        lambda m: [m.name, m.quantization, _size(m.size, "?"), m.path or ""],
        empty="no models downloaded yet; try `genius pull REF`",
    )


def show_ps(
    models: Sequence[ModelStatus], out: Output, *, empty: str = "no model is loaded in this process"
) -> None:
    """``genius ps`` and the chat's ``/ps``: the loaded models and when they unload."""
    _show_statuses(
        models,
        out,
        ["NAME", "SIZE", "UNTIL"],
        lambda m: [m.name, _size(m.size or None, "-"), _until(m)],
        empty=empty,
    )


def _show_statuses(
    models: Sequence[ModelStatus],
    out: Output,
    header: Sequence[str],
    row: Callable[[ModelStatus], Sequence[str]],
    *,
    empty: str,
) -> None:
    """One JSON object per model, or a table; ``empty`` (on stderr) when there is none."""
    if out.json:
        for model in models:
            out.emit(to_dict(model))
    elif not models:
        out.info(empty)
    else:
        out.table(header, [row(m) for m in models])


def _size(size: int | None, unknown: str) -> str:
    return format_size(size) if size is not None else unknown


def _until(status: ModelStatus) -> str:
    if status.expires_at is None:
        return "forever"
    left = status.expires_at - time.time()
    if left < 60:
        return f"in {max(0, round(left))} seconds"
    return f"in {round(left / 60)} minutes"


def info_record(local: LocalModel, info: GgufInfo) -> dict[str, Any]:
    """``genius info``'s one record (its ``--json`` row) from the file and its GGUF metadata."""
    return {
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


def show_info(record: dict[str, Any], out: Output) -> None:
    """``genius info``: a downloaded model's file and GGUF metadata (:func:`info_record`)."""
    if out.json:
        out.emit(record)
        return
    size = record["size"]
    rows = [
        ["model", record["model"]],
        ["path", record["path"]],
        ["size", _size(size if isinstance(size, int) else None, "?")],
        ["architecture", record["architecture"] or "?"],
        ["name", record["name"] or "?"],
        ["parameters", record["size_label"] or (str(record["parameter_count"] or "") or "?")],
        ["context length", str(record["context_length"] or "?")],
        ["layers", str(record["block_count"] or "?")],
        ["quantization", record["quantization"] or f"file type {record['file_type']}"],
        ["chat template", "yes" if record["chat_template"] else "no"],
        ["gguf", f"v{record['gguf_version']}, {record['tensor_count']} tensors"],
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        out.stdout.write(f"{key.ljust(width)}  {value}\n")
    out.stdout.flush()
    if record.get("created") is not None:
        from ._created_info import show_created

        show_created(record["created"], out)
