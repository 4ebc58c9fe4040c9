"""``/api/show`` for a created model: its Modelfile, parameters, system, template, messages.

Ollama's shapes: ``parameters`` is text, one ``name value`` line each (``stop`` once per
string), ``template`` and ``system`` strings, ``messages`` a list of ``{role, content}``;
``modelfile`` rebuilds the Modelfile the model could be created from again, and
``details.parent_model`` names the base.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rusty_genius_core import ModelEntry

__all__ = ["modelfile_of", "parameters_text", "with_created"]


def _quoted(text: str) -> str:
    if "\n" in text or text != text.strip() or '"' in text:
        return f'"""{text}"""'
    return text


def parameters_text(entry: ModelEntry) -> str:
    """Ollama's ``parameters`` text: each name padded to 30 columns, then its value."""
    if entry.parameters is None:
        return ""
    return "\n".join(f"{name:<30} {value}" for name, value in entry.parameters.ollama_lines())


def modelfile_of(entry: ModelEntry) -> str:
    """The Modelfile that creates ``entry`` again (adapters by their stored paths)."""
    lines = [f"FROM {entry.base}"]
    lines += [f"ADAPTER {adapter}" for adapter in entry.adapters or ()]
    if entry.template is not None:
        lines.append(f"TEMPLATE {_quoted(entry.template)}")
    if entry.system is not None:
        lines.append(f"SYSTEM {_quoted(entry.system)}")
    if entry.parameters is not None:
        lines += [f"PARAMETER {n} {v}" for n, v in entry.parameters.ollama_lines()]
    lines += [f"MESSAGE {m.role.value} {_quoted(m.content)}" for m in entry.messages or ()]
    if entry.license is not None:
        lines.append(f"LICENSE {_quoted(entry.license)}")
    return "\n".join(lines) + "\n"


def with_created(shown: dict[str, Any], entry: ModelEntry | None) -> dict[str, Any]:
    """``/api/show``'s answer for a model file, as the created model ``entry`` shows it."""
    if entry is None or entry.base is None:
        return shown
    out = dict(shown)
    out["modelfile"] = modelfile_of(entry)
    out["parameters"] = parameters_text(entry)
    if entry.template is not None:
        out["template"] = entry.template
    if entry.system is not None:
        out["system"] = entry.system
    if entry.messages:
        out["messages"] = [{"role": m.role.value, "content": m.content} for m in entry.messages]
    if entry.license is not None:
        out["license"] = entry.license
    if entry.adapters:
        out["adapters"] = [
            {"name": a.label, "path": str(a), "scale": a.scale} for a in entry.adapters
        ]
    out["details"] = {**shown["details"], "parent_model": entry.base}
    return out
