"""``genius info`` for a created model: what it adds over its base's file.

The record's ``created`` part has one shape whether it comes from the manifest entry
(in-process) or from ``/api/show`` (through a server): ``base``, ``system``,
``template``, ``parameters`` (Ollama's ``name value`` lines), ``messages``, ``adapters``
(names) and ``license``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rusty_genius_core import ModelEntry

    from .._serve._models_ollama import ShowResponse
    from ._render import Output

__all__ = ["created_of_entry", "created_of_show", "show_created"]


def created_of_entry(entry: ModelEntry | None) -> dict[str, Any] | None:
    if entry is None or entry.base is None:
        return None
    lines = entry.parameters.ollama_lines() if entry.parameters is not None else []
    return {
        "base": entry.base,
        "system": entry.system,
        "template": entry.template,
        "parameters": [f"{name} {value}" for name, value in lines],
        "messages": [{"role": m.role.value, "content": m.content} for m in entry.messages or ()],
        "adapters": [a.label for a in entry.adapters or ()],
        "license": entry.license,
    }


def created_of_show(show: ShowResponse) -> dict[str, Any] | None:
    if not show.details.parent_model:
        return None
    return {
        "base": show.details.parent_model,
        "system": show.system,
        "template": show.template if "\nTEMPLATE " in f"\n{show.modelfile}" else None,
        "parameters": [" ".join(line.split(None, 1)) for line in show.parameters.splitlines()],
        "messages": show.messages or [],
        "adapters": [str(a.get("name")) for a in show.adapters or ()],
        "license": show.license,
    }


def show_created(created: dict[str, Any], out: Output) -> None:
    """The created model's rows after the file's, then its template in full."""
    rows = [["created from", created["base"]]]
    if created["adapters"]:
        rows.append(["adapters", ", ".join(created["adapters"])])
    if created["system"] is not None:
        rows.append(["system", created["system"]])
    rows += [["parameter", line] for line in created["parameters"]]
    rows += [["message", f"{m['role']}: {m['content']}"] for m in created["messages"]]
    if created["license"] is not None:
        rows.append(["license", created["license"].splitlines()[0] if created["license"] else ""])
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        out.stdout.write(f"{key.ljust(width)}  {value}\n")
    if created["template"] is not None:
        out.stdout.write("template:\n")
        for line in created["template"].splitlines():
            out.stdout.write(f"  {line}\n")
    out.stdout.flush()
