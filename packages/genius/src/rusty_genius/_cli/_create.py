"""``genius create NAME -f Modelfile`` and ``genius cp SOURCE DESTINATION``.

The Modelfile is read and parsed here, on the client, as Ollama's CLI does; an
``ADAPTER`` path is relative to the Modelfile's folder. With a ``genius serve`` at
``GENIUS_HOST``, each adapter file is uploaded as a blob (unless the server has it) and
the model is created through ``/api/create``, so the server serves it at once; without
one, the adapter files are copied into ``$GENIUS_HOME/blobs`` and the entry is written
to the user's manifest directly. ``genius rm`` forgets a created model the same two ways.
"""

from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from facecrab import CreatedModels
from rusty_genius_core import Adapter, ManifestError

from .._created import adapter_name, check_created_adapters
from .._modelfile import parse_modelfile
from ._session import authority
from ._where import open_remote

if TYPE_CHECKING:
    from .._modelfile import Modelfile
    from ._parsed import CopyCommand, CreateCommand
    from ._remote import Remote
    from ._render import Output

__all__ = ["copy_model", "create_model"]


def _read(file: str) -> tuple[Path, str]:
    """The Modelfile's absolute path and its text."""
    path = Path(file).expanduser().absolute()
    try:
        return path, path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ManifestError(f"cannot read the Modelfile {str(path)!r}: {reason}") from None


def _digest(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            hasher.update(chunk)
    return f"sha256:{hasher.hexdigest()}"


def _is_hub(text: str) -> bool:
    repo, sep, filename = text.partition(":")
    return bool(sep and filename) and "/" in repo and not PurePosixPath(text).is_absolute()


def _place(text: str, folder: Path) -> Path | Adapter:
    """An ADAPTER line's file (relative to the Modelfile's folder), or a hub adapter."""
    path = Path(text).expanduser()
    path = path if path.is_absolute() else folder / path
    if path.is_file():
        return path
    if _is_hub(text):
        return Adapter.parse(text)
    raise ManifestError(f"ADAPTER {text}: no such file {str(path)!r}")


async def create_model(command: CreateCommand, out: Output) -> None:
    path, text = await anyio.to_thread.run_sync(_read, command.file)
    parsed = parse_modelfile(text)
    folder = path.parent
    places = [await anyio.to_thread.run_sync(_place, a, folder) for a in parsed.adapters]
    async with open_remote(command.options, out) as remote:
        if remote is not None:
            await _create_remote(remote, command, parsed, places, out)
        else:
            async with authority(command.options) as assets:
                created = CreatedModels(assets)
                sources = tuple(
                    p if isinstance(p, Adapter) else Adapter(path=str(p), name=adapter_name(p.name))
                    for p in places
                )
                await check_created_adapters(assets, parsed.entry(sources))  # before any copy
                adapters: list[Adapter] = []
                for place in places:
                    if isinstance(place, Adapter):
                        adapters.append(place)
                        continue
                    digest, stored = await anyio.to_thread.run_sync(
                        created.blobs.import_sync, place
                    )
                    adapters.append(
                        Adapter(
                            path=str(stored),
                            sha256=digest.split(":", 1)[1],
                            name=adapter_name(place.name),
                        )
                    )
                await created.create(command.model, parsed.entry(tuple(adapters)))
    _done(out, "created", command.model)


async def _create_remote(
    remote: Remote,
    command: CreateCommand,
    parsed: Modelfile,
    places: list[Path | Adapter],
    out: Output,
) -> None:
    adapters: dict[str, str] = {}
    for place in places:
        if isinstance(place, Adapter):
            raise ManifestError(
                f"ADAPTER {place}: {remote.where} takes adapter files; "
                "download it and name its path, or stop the server to create in-process"
            )
        digest = await anyio.to_thread.run_sync(_digest, place)
        await remote.upload_blob(place, digest)
        adapters[place.name] = digest
    body: dict[str, Any] = {"model": command.model, "from": parsed.base}
    if adapters:
        body["adapters"] = adapters
    for key in ("system", "template", "license"):
        if (value := getattr(parsed, key)) is not None:
            body[key] = value
    if not parsed.parameters.empty:
        body["parameters"] = parsed.parameters.to_ollama()
    if parsed.messages:
        body["messages"] = [{"role": m.role.value, "content": m.content} for m in parsed.messages]
    async for status in remote.create(body):
        if out.json:
            out.emit({"type": "status", "status": status})
        elif command.options.verbose:
            out.info(status)


async def copy_model(command: CopyCommand, out: Output) -> None:
    async with open_remote(command.options, out) as remote:
        if remote is not None:
            await remote.copy(command.source, command.destination)
        else:
            async with authority(command.options) as assets:
                await CreatedModels(assets).copy(command.source, command.destination)
    _done(out, "copied", command.destination, source=command.source)


def _done(out: Output, what: str, model: str, **more: str) -> None:
    if out.json:
        out.emit({"type": what, "model": model, **more})
    elif "source" in more:
        out.info(f"{what} {more['source']} to {model}")
    else:
        out.info(f"{what} {model}")
