"""What the orchestrator needs from an asset authority, as a structural protocol.

facecrab's ``AssetAuthority`` satisfies it without knowing about it; tests pass
small fakes (a source that fails, one that counts calls) without a network.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from os import PathLike
    from pathlib import Path

    from rusty_genius_core import AssetEvent, ModelSpec

__all__ = ["AssetSource", "LocalModelInfo", "ProgressCallback", "RegistryRecord"]

ProgressCallback = Callable[["AssetEvent"], Awaitable[None]]
"""An async callback that receives every asset event of one ``ensure_model`` call."""


class LocalModelInfo(Protocol):
    """A model on disk: facecrab's ``LocalModel`` (``spec``, ``path``, …)."""

    @property
    def spec(self) -> ModelSpec: ...

    @property
    def path(self) -> Path: ...


class RegistryRecord(Protocol):
    """One downloaded model, as facecrab's ``RegistryEntry`` records it."""

    @property
    def reference(self) -> str: ...

    @property
    def repo(self) -> str: ...

    @property
    def filename(self) -> str: ...

    @property
    def quantization(self) -> str: ...

    @property
    def size(self) -> int | None: ...

    @property
    def path(self) -> str | PathLike[str] | None: ...


@runtime_checkable
class AssetSource(Protocol):
    """Resolve and fetch models; the subset of facecrab's ``AssetAuthority`` brainstem uses.

    Failures raise :class:`~rusty_genius_core.AssetError` (or
    :class:`~rusty_genius_core.ManifestError` for a malformed reference); the
    orchestrator turns them into an ``ErrorReport`` for the one request.
    """

    async def ensure_model(
        self, reference: str, /, *, progress: ProgressCallback | None = None
    ) -> LocalModelInfo:
        """Return the verified local copy of ``reference``, downloading it if needed."""
        ...

    async def resolve(self, reference: str, /, *, network: bool = ...) -> ModelSpec:
        """Turn ``reference`` into a :class:`ModelSpec`; ``network=False`` stays offline."""
        ...

    async def list_models(self) -> Sequence[RegistryRecord]:
        """The models recorded in the local registry."""
        ...
