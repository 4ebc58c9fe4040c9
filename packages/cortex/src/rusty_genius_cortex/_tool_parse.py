"""Tool calls in model output: the formats real chat templates teach, parsed.

Each :class:`CallStyle` is how one family of templates writes a call (as
llama.cpp's ``common/chat.cpp`` and Ollama's tool parsers recognise them):

* ``hermes`` (Hermes, Qwen 2.5/3, SmolLM3 and many fine-tunes):
  ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``, one block per call;
* ``llama3`` (Llama 3.1-3.3): the answer is ``{"name": ..., "parameters": {...}}``
  (optionally after ``<|python_tag|>``), several joined by ``;``;
* ``mistral``: ``[TOOL_CALLS][{"name": ..., "arguments": {...}, "id": ...}]``, or
  the newer ``[TOOL_CALLS]name[ARGS]{...}`` (also with ``[CALL_ID]id``);
* ``functiongemma``: ``<start_function_call>call:name{key:<escape>text<escape>,n:1}
  <end_function_call>``;
* ``generic`` (ours, for templates without tools, constrained by a grammar):
  ``{"name": ..., "arguments": {...}}`` when a call is required; under ``auto``,
  llama.cpp's generic shape ``{"tool_call": {...}}`` or ``{"response": ...}``
  (the reply is the text).

:func:`parse_calls` splits a whole answer into its text and its calls;
:class:`CallScanner` does it while text streams, passing through text that
cannot start a call and holding the rest until the end.
"""

from __future__ import annotations

import enum
import json
import re
from typing import Any, Final

import attrs

from rusty_genius_core._record import FieldsRepr, Record

__all__ = ["CallScanner", "CallStyle", "ParsedCall", "detect_style", "parse_calls"]


class CallStyle(enum.StrEnum):
    HERMES = "hermes"
    LLAMA3 = "llama3"
    MISTRAL = "mistral"
    FUNCTIONGEMMA = "functiongemma"
    GENERIC = "generic"


@attrs.frozen(repr=False, eq=False)
class ParsedCall(Record):
    """One call as the model wrote it: a name and the arguments (any JSON value)."""

    name: str
    arguments: Any
    id: str | None = None


def detect_style(template: str) -> CallStyle:
    """The call style a chat template teaches (``hermes`` when nothing else matches)."""
    if "<start_function_call>" in template:
        return CallStyle.FUNCTIONGEMMA
    if "[TOOL_CALLS]" in template:
        return CallStyle.MISTRAL
    if "<tool_call>" in template:
        return CallStyle.HERMES
    if "<|python_tag|>" in template or (
        "<|start_header_id|>" in template and "parameters" in template
    ):
        return CallStyle.LLAMA3
    return CallStyle.HERMES


_MARKERS: Final = {
    CallStyle.HERMES: ("<tool_call>",),
    CallStyle.LLAMA3: ("<|python_tag|>",),
    CallStyle.MISTRAL: ("[TOOL_CALLS]",),
    CallStyle.FUNCTIONGEMMA: ("<start_function_call>",),
    CallStyle.GENERIC: (),
}
_STARTS_WITH_JSON: Final = frozenset({CallStyle.LLAMA3, CallStyle.GENERIC})
_decoder: Final = json.JSONDecoder()


def _json_prefix(text: str, pos: int = 0) -> tuple[Any, int] | None:
    """The JSON value starting at ``pos`` (after whitespace) and where it ends."""
    while pos < len(text) and text[pos].isspace():
        pos += 1
    try:
        return _decoder.raw_decode(text, pos)
    except ValueError:
        return None


def _call_of(value: Any, args_key: str = "arguments") -> ParsedCall | None:
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("function"), dict):  # {"type": "function", "function": {...}}
        value = value["function"]
    name = value.get("name")
    if not isinstance(name, str) or not name:
        return None
    for key in (args_key, "arguments", "parameters"):
        if key in value:
            args = value[key]
            if isinstance(args, str):  # some models write the arguments as JSON text
                try:
                    args = json.loads(args)
                except ValueError:
                    return None
            return ParsedCall(
                name, args, value.get("id") if isinstance(value.get("id"), str) else None
            )
    return ParsedCall(name, {})


def parse_calls(text: str, style: CallStyle) -> tuple[str, list[ParsedCall]]:
    """``text`` split into what is not a call and the calls (in order).

    Text that looks like a call but does not parse stays in the text.
    """
    if style is CallStyle.HERMES:
        return _parse_hermes(text)
    if style is CallStyle.MISTRAL:
        return _parse_mistral(text)
    if style is CallStyle.FUNCTIONGEMMA:
        return _parse_functiongemma(text)
    if style is CallStyle.GENERIC:
        return _parse_generic(text)
    return _parse_json_answer(text, "parameters")


_HERMES: Final = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)


def _parse_hermes(text: str) -> tuple[str, list[ParsedCall]]:
    calls: list[ParsedCall] = []
    kept: list[str] = []
    last = 0
    for match in _HERMES.finditer(text):
        parsed = _json_prefix(match.group(1))
        call = _call_of(parsed[0]) if parsed else None
        if call is None:
            continue
        kept.append(text[last : match.start()])
        last = match.end()
        calls.append(call)
    kept.append(text[last:])
    return "".join(kept).strip() if calls else text, calls


def _parse_generic(text: str) -> tuple[str, list[ParsedCall]]:
    """``{"tool_call": call}``, ``{"tool_calls": [...]}``, ``{"response": ...}`` or a bare call."""
    parsed = _json_prefix(text)
    if parsed is None or text[parsed[1] :].strip() or not isinstance(parsed[0], dict):
        return text, []
    value = parsed[0]
    if set(value) == {"response"}:
        reply = value["response"]
        return (reply if isinstance(reply, str) else json.dumps(reply, ensure_ascii=False)), []
    if set(value) in ({"tool_call"}, {"tool_calls"}):
        items = value.get("tool_calls", [value.get("tool_call")])
        calls = [_call_of(item) for item in (items if isinstance(items, list) else [items])]
        if not calls or None in calls:
            return text, []
        return "", [c for c in calls if c is not None]
    return _parse_json_answer(text, "arguments")


def _parse_json_answer(text: str, args_key: str) -> tuple[str, list[ParsedCall]]:
    body = text.strip()
    if body.startswith("<|python_tag|>"):
        body = body[len("<|python_tag|>") :]
    calls: list[ParsedCall] = []
    pos = 0
    while True:
        parsed = _json_prefix(body, pos)
        if parsed is None:
            return text, []
        value, pos = parsed
        items = value if isinstance(value, list) else [value]
        for item in items:
            call = _call_of(item, args_key)
            if call is None:
                return text, []
            calls.append(call)
        rest = body[pos:].lstrip()
        if not rest:
            return "", calls
        if not rest.startswith(";"):
            return text, []
        pos = len(body) - len(rest) + 1


_MISTRAL_NEW: Final = re.compile(
    r"\[TOOL_CALLS\]\s*([A-Za-z0-9_.-]+)\s*(?:\[CALL_ID\]\s*([A-Za-z0-9]+)\s*)?\[ARGS\]"
)


def _parse_mistral(text: str) -> tuple[str, list[ParsedCall]]:
    start = text.find("[TOOL_CALLS]")
    if start < 0:
        return text, []
    head = text[:start]
    calls: list[ParsedCall] = []
    pos = start
    while pos < len(text):
        match = _MISTRAL_NEW.match(text, pos)
        if match:
            parsed = _json_prefix(text, match.end())
            if parsed is None:
                return text, []
            calls.append(ParsedCall(match.group(1), parsed[0], match.group(2)))
            pos = parsed[1]
        elif text.startswith("[TOOL_CALLS]", pos):
            parsed = _json_prefix(text, pos + len("[TOOL_CALLS]"))
            if parsed is None:
                return text, []
            items = parsed[0] if isinstance(parsed[0], list) else [parsed[0]]
            for item in items:
                call = _call_of(item)
                if call is None:
                    return text, []
                calls.append(call)
            pos = parsed[1]
        else:
            rest = text[pos:].strip()
            if rest and rest != "</s>":
                return text, []
            break
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return head.strip(), calls


_GEMMA_CALL: Final = re.compile(
    r"<start_function_call>\s*call:([A-Za-z0-9_.-]+)\s*(\{.*?\})\s*<end_function_call>", re.DOTALL
)
_ESCAPE: Final = "<escape>"


def _parse_functiongemma(text: str) -> tuple[str, list[ParsedCall]]:
    calls: list[ParsedCall] = []
    kept: list[str] = []
    last = 0
    for match in _GEMMA_CALL.finditer(text):
        try:
            value, _end = _GemmaValue(match.group(2)).object(0)
        except ValueError:
            continue
        kept.append(text[last : match.start()])
        last = match.end()
        calls.append(ParsedCall(match.group(1), value))
    kept.append(text[last:])
    return "".join(kept).strip() if calls else text, calls


class _GemmaValue:
    """FunctionGemma's argument markup: ``{key:value,...}``, strings in ``<escape>``."""

    def __init__(self, text: str) -> None:
        self.s = text

    def object(self, pos: int) -> tuple[dict[str, Any], int]:
        s = self.s
        if s[pos] != "{":
            raise ValueError("expected {")
        pos += 1
        out: dict[str, Any] = {}
        while True:
            pos = self._ws(pos)
            if s[pos] == "}":
                return out, pos + 1
            colon = s.index(":", pos)
            key = s[pos:colon].strip()
            if key.startswith(_ESCAPE) and key.endswith(_ESCAPE):
                key = key[len(_ESCAPE) : -len(_ESCAPE)]
            value, pos = self.value(colon + 1)
            out[key] = value
            pos = self._ws(pos)
            if s[pos] == ",":
                pos += 1
            elif s[pos] != "}":
                raise ValueError(f"expected , or }} at {pos}")

    def value(self, pos: int) -> tuple[Any, int]:
        s = self.s
        pos = self._ws(pos)
        if s.startswith(_ESCAPE, pos):
            end = s.index(_ESCAPE, pos + len(_ESCAPE))
            return s[pos + len(_ESCAPE) : end], end + len(_ESCAPE)
        if s[pos] == "{":
            return self.object(pos)
        if s[pos] == "[":
            items: list[Any] = []
            pos += 1
            while True:
                pos = self._ws(pos)
                if s[pos] == "]":
                    return items, pos + 1
                item, pos = self.value(pos)
                items.append(item)
                pos = self._ws(pos)
                if s[pos] == ",":
                    pos += 1
        end = pos
        while end < len(s) and s[end] not in ",}]":
            end += 1
        word = s[pos:end].strip()
        try:
            return json.loads(word), end
        except ValueError:
            return word, end

    def _ws(self, pos: int) -> int:
        while pos < len(self.s) and self.s[pos].isspace():
            pos += 1
        if pos >= len(self.s):
            raise ValueError("unexpected end")
        return pos


_REPLY_OPEN: Final = re.compile(r'\s*\{\s*"response"\s*:\s*"')
_REPLY_KEY: Final = '{"response":"'  # _REPLY_OPEN without its whitespace
_SIMPLE_ESCAPES: Final = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "b": "\b",
    "f": "\f",
    "/": "/",
    "\\": "\\",
    '"': '"',
}


@attrs.define(repr=False)
class _Reply(FieldsRepr):
    """A JSON string's text as it streams in: escapes decoded, stops at the closing quote."""

    open: bool = False
    failed: bool = False
    done: bool = False
    pending: str = ""  # an escape sequence cut between pieces

    def feed(self, text: str) -> str:
        buf, self.pending = self.pending + text, ""
        out: list[str] = []
        i = 0
        while i < len(buf) and not self.done:
            c = buf[i]
            if c == '"':
                self.done = True
            elif c != "\\":
                out.append(c)
            else:
                size = 2
                if buf[i + 1 : i + 2] == "u":
                    size = 6
                    if buf[i + 2 : i + 4].lower() in ("d8", "d9", "da", "db"):
                        size = 12  # a surrogate pair: both halves together
                if i + size > len(buf):
                    self.pending = buf[i:]
                    break
                chunk = buf[i : i + size]
                try:
                    out.append(json.loads(f'"{chunk}"'))
                except ValueError:
                    out.append(_SIMPLE_ESCAPES.get(chunk[1:2], chunk))
                i += size
                continue
            i += 1
        return "".join(out)


class CallScanner:
    """Streams text through, holding back what may be a tool call (until :meth:`finish`).

    Text before a call's marker flows out as it comes, except a tail that could be
    the start of a marker; for styles whose call is the whole answer (``llama3``,
    ``generic``), an answer whose first visible character is ``{`` is held whole.
    """

    def __init__(self, style: CallStyle) -> None:
        self.style = style
        self._markers = _MARKERS[style]
        self._held: list[str] = []
        self._pending = ""  # passed text that might still begin a marker
        self._holding = False
        self._started = False  # seen a non-space character
        self._reply = _Reply() if style is CallStyle.GENERIC else None

    def feed(self, text: str) -> str:
        """The part of ``text`` that can be shown now."""
        if self._holding:
            self._held.append(text)
            return self._reply_text()
        buf = self._pending + text
        if not self._started and self.style in _STARTS_WITH_JSON:
            stripped = buf.lstrip()
            if not stripped:
                self._pending = buf
                return ""
            self._started = True
            if stripped[0] in "{[":
                self._holding = True
                self._held.append(buf)
                self._pending = ""
                return self._reply_text()
        for marker in self._markers:
            at = buf.find(marker)
            if at >= 0:
                self._holding = True
                self._held.append(buf[at:])
                self._pending = ""
                return buf[:at]
        keep = 0
        for marker in self._markers:
            for n in range(min(len(marker) - 1, len(buf)), 0, -1):
                if buf.endswith(marker[:n]):
                    keep = max(keep, n)
                    break
        self._pending = buf[len(buf) - keep :] if keep else ""
        return buf[: len(buf) - keep]

    def _reply_text(self) -> str:
        """Under ``generic``, the text of ``{"response": "..."}`` as it streams."""
        reply = self._reply
        if reply is None or reply.failed:
            return ""
        if not reply.open:
            held = "".join(self._held)
            match = _REPLY_OPEN.match(held)
            if match is None:
                reply.failed = not _REPLY_KEY.startswith(re.sub(r"\s+", "", held))
                return ""
            reply.open = True
            self._held = [held[match.end() :]]
        text = "".join(self._held)
        self._held = []
        return reply.feed(text)

    def finish(self) -> tuple[str, list[ParsedCall]]:
        """The text still to show and the calls, once the answer is complete."""
        if self._reply is not None and self._reply.open:
            return "", []  # the reply has been shown as it came
        if not self._holding:
            tail, self._pending = self._pending, ""
            return tail, []
        held = "".join(self._held)
        self._held = []
        text, calls = parse_calls(held, self.style)
        return text, calls
