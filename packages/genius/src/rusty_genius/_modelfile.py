"""Ollama's Modelfile, the subset that maps onto this framework. Pure: text in, record out.

Syntax as Ollama's parser reads it: one instruction per line (names in any case),
``#`` comments, a value running to the end of its line or quoted, ``"..."`` or
triple-quoted, across lines. Instructions:

* ``FROM`` (required, once): an alias or ``org/repo[:QUANT]``;
* ``ADAPTER``: a LoRA adapter GGUF, a path (relative to the Modelfile's folder) or
  ``org/repo:file.gguf``; each line adds one;
* ``PARAMETER name value``: Ollama's names (``temperature``, ``top_p``, ``top_k``,
  ``min_p``, ``repeat_penalty``, ``seed``, ``num_predict``, ``stop``, ``num_ctx``);
  ``stop`` lines add up, any other repeated name keeps the last value;
* ``SYSTEM``, ``TEMPLATE`` (a Jinja chat template, the GGUF's own format: a Go
  template is refused), ``MESSAGE role content`` (system, user or assistant);
* ``LICENSE``: stored (several are kept, one after another) and shown, never enforced.

Ollama's ``DRAFT``, ``RENDERER``, ``PARSER`` and ``REQUIRES`` are refused as
unsupported; anything else is an unknown instruction. Every error names its line.
"""

from __future__ import annotations

import re
from typing import Any, Final

import attrs

from rusty_genius_core import (
    GO_TEMPLATE_REFUSAL,
    Adapter,
    ChatMessage,
    ConfigError,
    ManifestError,
    ModelEntry,
    Parameters,
    is_go_template,
)
from rusty_genius_core._record import Record

__all__ = ["Modelfile", "parse_modelfile"]

_SUPPORTED: Final = ("from", "adapter", "parameter", "system", "template", "message", "license")
_OLLAMA_ONLY: Final = ("draft", "renderer", "parser", "requires")
_ROLES: Final = ("system", "user", "assistant")
_NAME: Final = re.compile(r"[A-Za-z]+")
_PARAMETER: Final = re.compile(r"[A-Za-z0-9_]+")
_BLANK: Final = re.compile(r"[ \t]*")
_END_OF_LINE: Final = re.compile(r"[ \t]*(?:\r\n|\r|\n|$)")


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Modelfile(Record):
    """What a Modelfile says; adapters as written (a relative path is not resolved here)."""

    base: str
    adapters: tuple[str, ...] = ()
    parameters: Parameters = attrs.field(factory=Parameters)
    system: str | None = None
    template: str | None = None
    messages: tuple[ChatMessage, ...] = ()
    license: str | None = None

    def entry(self, adapters: tuple[Adapter, ...] = ()) -> ModelEntry:
        """The manifest entry this Modelfile creates, with its adapters resolved."""
        return ModelEntry(
            base=self.base,
            adapters=adapters or None,
            system=self.system,
            template=self.template,
            parameters=None if self.parameters.empty else self.parameters,
            messages=self.messages or None,
            license=self.license,
        )


class _Reader:
    """A cursor over the text that knows its line number."""

    def __init__(self, text: str) -> None:
        self.text = text.removeprefix("\ufeff")
        self.at = 0
        self.line = 1

    def done(self) -> bool:
        return self.at >= len(self.text)

    def error(self, words: str, line: int | None = None) -> ManifestError:
        return ManifestError(f"Modelfile line {line or self.line}: {words}")

    def advance(self, to: int) -> str:
        taken = self.text[self.at : to]
        self.line += len(re.findall(r"\r\n|\r|\n", taken))
        self.at = to
        return taken

    def skip_blank_and_comments(self) -> None:
        while not self.done():
            char = self.text[self.at]
            if char in " \t\r\n":
                self.advance(self.at + 1)
            elif char == "#":
                end = _END_OF_LINE.search(self.text, self.at)
                self.advance(end.start() if end else len(self.text))
            else:
                return

    def word(self, pattern: re.Pattern[str]) -> str:
        found = pattern.match(self.text, self.at)
        return self.advance(found.end()) if found else ""

    def spaces(self) -> str:
        return self.word(_BLANK)

    def value(self, what: str) -> str:
        """The rest of the line, or a quoted value across lines, unquoted."""
        start = self.line
        for quote in ('"""', '"'):
            if self.text.startswith(quote, self.at):
                closing = re.compile(re.escape(quote) + _END_OF_LINE.pattern)
                end = closing.search(self.text, self.at + len(quote))
                if end is None:
                    raise self.error(f"{what}: the {quote} opened here is never closed", start)
                inner = self.text[self.at + len(quote) : end.start()]
                self.advance(end.end())
                return inner
        end = _END_OF_LINE.search(self.text, self.at)
        assert end is not None  # it matches at the end of the text
        found = self.text[self.at : end.start()].strip()
        self.advance(end.end())
        if not found:
            raise self.error(f"{what} needs a value", start)
        return found


def parse_modelfile(text: str) -> Modelfile:
    """Read a Modelfile; :class:`ManifestError` naming the line for anything wrong."""
    reader = _Reader(text)
    fields: dict[str, Any] = {}
    adapters: list[str] = []
    messages: list[ChatMessage] = []
    licenses: list[str] = []
    raw_parameters: dict[str, Any] = {}
    stops: list[str] = []
    while True:
        reader.skip_blank_and_comments()
        if reader.done():
            break
        line = reader.line
        name = reader.word(_NAME)
        lower = name.lower()
        if not name or reader.done() or reader.text[reader.at] not in " \t":
            shown = name or reader.text[reader.at : reader.at + 20].split()[0]
            if lower in _SUPPORTED:
                raise reader.error(f"{name.upper()} needs a value", line)
            raise reader.error(f"unknown instruction {shown!r}; {_known()}", line)
        if lower in _OLLAMA_ONLY:
            raise reader.error(
                f"{name.upper()} is an Ollama instruction this framework does not support", line
            )
        if lower not in _SUPPORTED:
            raise reader.error(f"unknown instruction {name!r}; {_known()}", line)
        reader.spaces()
        if lower == "parameter":
            key = reader.word(_PARAMETER).lower()
            if not key:
                raise reader.error("PARAMETER needs a name and a value", line)
            reader.spaces()
            value = reader.value(f"PARAMETER {key}")
            try:
                Parameters.from_ollama({key: value})
            except ConfigError as exc:
                raise reader.error(exc.message, line) from None
            if key == "stop":
                stops.append(value)
            else:
                raw_parameters[key] = value
        elif lower == "message":
            role = reader.word(_NAME).lower()
            if role not in _ROLES:
                raise reader.error(
                    f"MESSAGE role must be one of {', '.join(_ROLES)}, got {role!r}", line
                )
            reader.spaces()
            messages.append(ChatMessage(role=role, content=reader.value(f"MESSAGE {role}")))
        else:
            value = reader.value(name.upper())
            if lower == "from":
                if "base" in fields:
                    raise reader.error("a second FROM; a Modelfile names one base model", line)
                fields["base"] = value
            elif lower == "adapter":
                adapters.append(value)
            elif lower == "template":
                if is_go_template(value):
                    raise reader.error(f"TEMPLATE {GO_TEMPLATE_REFUSAL}", line)
                fields["template"] = value
            elif lower == "license":
                licenses.append(value)
            else:
                fields[lower] = value
    if "base" not in fields:
        raise ManifestError(
            "Modelfile has no FROM line (the base model, e.g. FROM smollm2-135m-instruct)"
        )
    if stops:
        raw_parameters["stop"] = stops
    try:
        parameters = Parameters.from_ollama(raw_parameters)
    except ConfigError as exc:  # what no single line breaks: too many stop strings
        raise ManifestError(f"Modelfile: {exc.message}") from None
    return Modelfile(
        **fields,
        adapters=tuple(adapters),
        parameters=parameters,
        messages=tuple(messages),
        license="\n\n".join(licenses) if licenses else None,
    )


def _known() -> str:
    return "a Modelfile has " + ", ".join(n.upper() for n in _SUPPORTED)
