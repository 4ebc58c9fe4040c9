"""What a created model does to each request: its system prompt, messages and parameters.

Ollama's rules: the model's ``SYSTEM`` is the system message of a request that has
none; its ``MESSAGE`` turns come before the request's own; its ``PARAMETER`` values are
defaults under the request's options. A plain prompt (not ``raw``) becomes a chat of
those turns and the prompt, as Ollama's ``/api/generate`` renders it. The ``TEMPLATE``
is not applied here: it replaces the GGUF's chat template when the model loads.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

import anyio.to_thread
import attrs

from facecrab import CreatedModels
from rusty_genius_core import (
    ChatMessage,
    GeniusError,
    ManifestError,
    ModelReference,
    ModelStatus,
    Role,
)
from rusty_genius_cortex import check_lora_adapter, read_gguf_info

if TYPE_CHECKING:
    from facecrab import AssetAuthority
    from rusty_genius_core import Infer, ModelEntry, UserManifest

__all__ = [
    "adapter_name",
    "check_created_adapters",
    "created_entry",
    "created_statuses",
    "with_created",
]


async def created_statuses(assets: AssetAuthority) -> list[tuple[ModelStatus, ModelEntry]]:
    """A status row for each created model (its base's file, when on disk), with its entry."""
    rows: list[tuple[ModelStatus, ModelEntry]] = []
    for name, entry in await CreatedModels(assets).all():
        try:
            found = await assets.find_local(name)
        except GeniusError:  # a base that no longer resolves: listed, with nothing on disk
            found = None
        status = ModelStatus(name=name)
        if found is not None:
            spec = found.spec
            status = ModelStatus(
                name=name,
                repo=spec.repo,
                filename=spec.filename,
                quantization=spec.quantization,
                size=spec.size,
                path=str(found.path),
                downloaded=True,
            )
        rows.append((status, entry))
    return rows


async def check_created_adapters(assets: AssetAuthority, entry: ModelEntry) -> None:
    """Refuse (AdapterError, 400) a local adapter file that is not a LoRA adapter GGUF, or
    was made for another architecture than the base's, when the base is on disk."""
    files = [a for a in entry.adapters or () if a.path is not None]
    if not files:
        return
    architecture = None
    if entry.base is not None:
        try:
            found = await assets.find_local(entry.base)
        except GeniusError:  # an unknown base is refused by name when the entry is stored
            found = None
        if found is not None:
            info = await anyio.to_thread.run_sync(read_gguf_info, found.path)
            architecture = info.architecture
    for adapter in files:
        assert adapter.path is not None
        check = functools.partial(check_lora_adapter, name=adapter.label)
        await anyio.to_thread.run_sync(check, adapter.path, architecture)


def adapter_name(filename: str) -> str:
    """An adapter's name from its file's name: the stem, in the characters names allow."""
    stem = re.split(r"[/\\]", filename)[-1]
    stem = stem[:-5] if stem.lower().endswith(".gguf") else stem
    name = re.sub(r"[^A-Za-z0-9._:-]+", "-", stem).strip("-._:")[:128]
    return name or "adapter"


def created_entry(manifest: UserManifest, model: str) -> ModelEntry | None:
    """The entry (defaults and base filled in) of the alias ``model``; ``None`` for a repo
    reference or an unknown name (the brainstem reports those)."""
    try:
        alias = ModelReference.parse(model).alias
    except ManifestError:
        return None
    return None if alias is None else manifest.entry(alias)


def with_created(entry: ModelEntry | None, command: Infer) -> Infer:
    """``command`` with ``entry``'s system prompt, messages and parameters applied."""
    if entry is None:
        return command
    turns = entry.messages or ()
    system = entry.system
    config = command.config if entry.parameters is None else entry.parameters.under(command.config)
    if command.messages is not None:
        own = command.messages
        head = 0  # the request's own leading system messages stay first
        while head < len(own) and own[head].role is Role.SYSTEM:
            head += 1
        has_system = any(m.role is Role.SYSTEM for m in own)
        lead = own[:head]
        if system is not None and not has_system:
            lead = (ChatMessage(role=Role.SYSTEM, content=system),)
        messages = (*lead, *turns, *own[head:])
        return attrs.evolve(command, messages=messages, config=config)
    if command.prompt is not None and not command.config.raw and (system is not None or turns):
        lead = () if system is None else (ChatMessage(role=Role.SYSTEM, content=system),)
        prompt = ChatMessage(role=Role.USER, content=command.prompt)
        return attrs.evolve(command, prompt=None, messages=(*lead, *turns, prompt), config=config)
    return attrs.evolve(command, config=config)
