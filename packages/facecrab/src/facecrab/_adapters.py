"""A model entry's LoRA adapters, made local like models.

A hub adapter (``repo`` + ``filename``) is a :class:`~facecrab._resolve.Wanted` like any
model file: the registry answers first, else it is resolved, downloaded (resumable,
sha256-verified, under the same per-file locks) and recorded in ``registry.toml`` by the
authority's own model path. A local adapter (``path``) must exist; a pinned ``sha256``
is checked against its bytes (a mismatch is the manifest's fault: ``ManifestError``). What comes out is one :class:`AdapterFile` per adapter,
in the entry's order. Whether a file *is* a LoRA adapter for the base model is read
from its GGUF metadata by cortex, not here (facecrab never imports cortex).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Final

import anyio.to_thread

from rusty_genius_core import DEFAULT_REVISION, Adapter, AdapterFile, AssetComplete, ManifestError

from ._local import with_adapters
from ._resolve import Wanted, quantization_of

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from rusty_genius_core import AssetEvent

    from ._local import LocalModel

    Emit = Callable[[AssetEvent], Awaitable[None]]
    FetchFile = Callable[[str, Wanted, Emit], Awaitable[LocalModel]]
    FindFile = Callable[[Wanted], Awaitable[LocalModel | None]]

__all__ = ["adapter_wanted", "ensure_adapters", "find_adapters"]

_QUANT_OF_ADAPTERS: Final = "LORA"
"""The registry's quantization for an adapter whose file name carries none."""
_CHUNK: Final = 1 << 20


def adapter_wanted(adapter: Adapter) -> Wanted:
    """What a hub adapter asks of the hub: one named file, pinned where the entry pins it."""
    assert adapter.repo is not None
    assert adapter.filename is not None
    return Wanted(
        name=str(adapter),
        repo=adapter.repo,
        quantization=quantization_of(adapter.filename) or _QUANT_OF_ADAPTERS,
        revision=adapter.revision or DEFAULT_REVISION,
        filename=adapter.filename,
        sha256=adapter.sha256,
        size=adapter.size,
    )


async def ensure_adapters(
    adapters: tuple[Adapter, ...], fetch: FetchFile, emit: Emit
) -> tuple[AdapterFile, ...]:
    """Each adapter's verified local file, fetching hub adapters through ``fetch``.

    ``fetch(reference, wanted, emit)`` is the authority's model path. An adapter's own
    ``AssetComplete`` is not forwarded: the model's is the one that ends a pull.
    """

    async def forward(event: AssetEvent) -> None:
        if not isinstance(event, AssetComplete):
            await emit(event)

    files: list[AdapterFile] = []
    for adapter in adapters:
        if adapter.path is not None:
            path = await anyio.to_thread.run_sync(_checked_local, adapter)
        else:
            path = (await fetch(str(adapter), adapter_wanted(adapter), forward)).path
        files.append(AdapterFile(name=adapter.label, path=path, scale=adapter.scale))
    return tuple(files)


async def find_adapters(
    found: LocalModel | None, want: Wanted, find: FindFile
) -> LocalModel | None:
    """``found`` with ``want``'s adapters' files, or ``None`` when one is not local (no network)."""
    if found is None or not want.adapters:
        return found
    files: list[AdapterFile] = []
    for adapter in want.adapters:
        if adapter.path is not None:
            path: Path | None = await anyio.to_thread.run_sync(_checked_local, adapter)
        else:
            local = await find(adapter_wanted(adapter))
            path = None if local is None else local.path
        if path is None:
            return None
        files.append(AdapterFile(name=adapter.label, path=path, scale=adapter.scale))
    return with_adapters(found, want, tuple(files))


def _checked_local(adapter: Adapter) -> Path:
    """A local adapter's file, absolute; its bytes checked against a pinned sha256."""
    assert adapter.path is not None
    path = Path(adapter.path).expanduser()
    if not path.is_file():
        raise ManifestError(f"adapter {adapter.label!r}: no file at {adapter.path!r}")
    if adapter.size is not None and path.stat().st_size != adapter.size:
        raise ManifestError(
            f"adapter {adapter.label!r}: {adapter.path!r} has {path.stat().st_size} bytes, "
            f"the manifest pins {adapter.size}"
        )
    if adapter.sha256 is not None:
        digest = hashlib.sha256()
        with path.open("rb") as file:
            while chunk := file.read(_CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != adapter.sha256:
            raise ManifestError(
                f"adapter {adapter.label!r}: {adapter.path!r} has sha256 {digest.hexdigest()}, "
                f"the manifest pins {adapter.sha256}"
            )
    return path
