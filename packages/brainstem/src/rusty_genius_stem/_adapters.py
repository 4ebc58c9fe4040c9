"""Aliases over one base file share one loaded model; each request brings its adapters.

A manifest alias may be a base model plus LoRA adapters. :class:`AdapterRouter` keeps
two small maps for the session:

* **load names**: the scheduler schedules, loads and keeps alive models by name; every
  alias whose base is the same file (repo, file, revision) is scheduled under the first
  name seen for that file, so ``router`` and ``tone`` over SmolLM2 share one load (and
  a plain ``smollm2`` alias shares it too). A name that cannot be resolved without the
  network is scheduled as itself (its fetch reports why).
* **adapter sets**: the request's own adapters (verified files), fetched like the base
  (downloads forwarded as asset events) and checked against the base's GGUF header
  (:func:`~rusty_genius_cortex.check_adapters`: an ``AdapterError`` naming the file
  before any engine sees it). An engine without weights (Pinky) gets the adapters'
  names and scales with the paths the manifest gives (hub adapters: ``/repo/file``), as
  it only names them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar

import anyio.to_thread

from rusty_genius_core import AdapterFile, GeniusError
from rusty_genius_cortex import check_adapters

if TYPE_CHECKING:
    from rusty_genius_core import Adapter, AdapterSet, AssetEvent, ModelSpec
    from rusty_genius_cortex import Engine

    from ._assets import AssetSource, ProgressCallback
    from ._records import Job
    from ._streaming import Send

__all__ = ["AdapterRouter"]

V = TypeVar("V")
_REMEMBERED: Final = 1024
"""Names kept per map; past it the oldest is forgotten (and resolved again when needed)."""


class AdapterRouter:
    """The session's maps from model names to load names and adapter sets."""

    def __init__(self, assets: AssetSource) -> None:
        self._assets = assets
        self._load_names: dict[str, str] = {}
        self._by_base: dict[tuple[str, str, str, str | None, int | None], str] = {}
        self._sets: dict[str, AdapterSet] = {}
        self._specs: dict[str, ModelSpec] = {}

    async def spec(self, model: str) -> ModelSpec | None:
        """``model`` resolved without the network (``None``: unknown); known ones are kept,
        unknown names are not (a stream of them must leave nothing behind)."""
        found = self._specs.get(model)
        if found is not None:
            return found
        try:
            found = await self._assets.resolve(model, network=False)
        except GeniusError:
            return None
        _remember(self._specs, model, found)
        return found

    def known_load_name(self, model: str) -> str:
        """The load name already learned for ``model`` (else ``model``); no I/O."""
        return self._load_names.get(model, model)

    def load_name(self, model: str, spec: ModelSpec | None) -> str:
        """The name ``model`` (resolved as ``spec``) is scheduled and loaded under."""
        known = self._load_names.get(model)
        if known is not None:
            return known
        if spec is None:
            return model  # unknown offline: scheduled as itself, its fetch says why
        # A created model's own template or context is a load of its own (as in Ollama).
        key = (spec.repo.lower(), spec.filename, spec.revision, spec.template, spec.context_size)
        name = self._by_base.setdefault(key, model)
        _remember(self._load_names, model, name)
        return name

    async def adapters_for(self, job: Job, send: Send) -> AdapterSet:
        """The adapter set of ``job``, running on its instance; asset events go to ``send``."""
        instance = job.instance
        assert instance is not None
        assert instance.engine is not None

        async def forward(event: AssetEvent) -> None:
            await send(job.request_id, event)

        spec = job.resolved or (instance.spec if instance.name == job.model else None)
        return await self.adapters(job.model, spec, instance.engine, instance.path, forward)

    async def adapters(
        self,
        model: str,
        spec: ModelSpec | None,
        engine: Engine,
        base: Path | None,
        forward: ProgressCallback,
    ) -> AdapterSet:
        """The adapter set of ``model``'s requests (resolved as ``spec``, ``None`` when not
        known offline): verified files, checked against the loaded ``base``."""
        found = self._sets.get(model)
        if found is not None:
            return found
        if spec is not None and not spec.adapters:
            return ()  # the common case: no adapters, no asset call, no events
        if engine.needs_weights:
            local = await self._assets.ensure_model(model, progress=forward)
            files: AdapterSet = tuple(getattr(local, "adapters", ()))
            if files and base is not None:
                await anyio.to_thread.run_sync(check_adapters, base, files)
        elif spec is None:
            return ()
        else:
            files = _named(spec)
        _remember(self._sets, model, files)
        return files


def _named(spec: ModelSpec) -> AdapterSet:
    return tuple(AdapterFile(name=a.label, path=_where(a), scale=a.scale) for a in spec.adapters)


def _where(adapter: Adapter) -> Path:
    return Path(adapter.path) if adapter.path is not None else Path("/", str(adapter))


def _remember(table: dict[str, V], key: str, value: V) -> None:
    if len(table) >= _REMEMBERED:
        del table[next(iter(table))]
    table[key] = value
