"""What the asset authority hands out: a verified model on disk, with its adapters."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from rusty_genius_core import AdapterFile, ModelSpec
from rusty_genius_core._record import Record

if TYPE_CHECKING:
    from ._resolve import Wanted

__all__ = ["LocalModel", "with_adapters"]


@attrs.frozen(kw_only=True, repr=False, eq=False)
class LocalModel(Record):
    """A verified model on disk. ``cached`` when this call fetched nothing;
    ``parts`` lists every file of a split GGUF (``path`` is the first)."""

    spec: ModelSpec
    path: Path
    cached: bool
    parts: tuple[Path, ...]
    adapters: tuple[AdapterFile, ...] = ()
    """The entry's LoRA adapters (``spec.adapters``), each a verified local file, in order."""


def with_adapters(found: LocalModel, want: Wanted, files: tuple[AdapterFile, ...]) -> LocalModel:
    """``found`` as the entry ``want`` describes it: its adapters and their files, and a
    created model's chat template."""
    spec = attrs.evolve(found.spec, **want.created_fields())
    return attrs.evolve(found, spec=spec, adapters=files)
