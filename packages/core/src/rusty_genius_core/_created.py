"""Checks for what a created model carries: its chat template and its TOML form.

A chat template here is Jinja, the GGUF's own format (``tokenizer.chat_template``), as
llama.cpp renders it. Ollama's Modelfiles carry Go templates (``{{ .System }}``,
``{{- if .Messages }}``); those read as Jinja would fail or, worse, render nonsense, so
they are refused by name.
"""

from __future__ import annotations

import re
from typing import Any, Final

from ._validators import Refusal

__all__ = ["GO_TEMPLATE_REFUSAL", "is_go_template"]

_GO: Final = re.compile(
    r"\{\{-?\s*(?:\.|(?:if|range|with|else\s+if|block|define|template)\s+[.$]|end\s*-?\}\})"
)
GO_TEMPLATE_REFUSAL: Final = (
    "is a Go template (Ollama's format); only Jinja chat templates, the GGUF's own "
    "format (as in tokenizer.chat_template), are supported"
)


def is_go_template(text: str) -> bool:
    """Whether ``text`` uses Go template syntax: ``{{ .X }}``, ``{{- if .X }}``, ``{{ end }}``."""
    return _GO.search(text) is not None


def _template_check(value: Any) -> Any:
    if not isinstance(value, str) or not value.strip():
        raise Refusal(f"must be a non-empty Jinja chat template, got {value!r}")
    if is_go_template(value):
        raise Refusal(GO_TEMPLATE_REFUSAL)
    return value


def _toml_plain(data: Any) -> Any:
    """Plain data for TOML: the protocol's ``type`` tags, ``None`` and empty lists dropped
    (TOML has no null; every dropped key decodes back to its default)."""
    if isinstance(data, dict):
        return {
            k: _toml_plain(v) for k, v in data.items() if k != "type" and v is not None and v != []
        }
    if isinstance(data, list):
        return [_toml_plain(v) for v in data]
    return data
