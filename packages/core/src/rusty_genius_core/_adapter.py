"""LoRA adapters: the manifest's reference, and the resolved file an engine applies.

A manifest entry may name adapters over its base model, each a file on the hub or on
this machine, applied with a ``scale`` (1.0 by default)::

    [models.router]
    repo = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"
    filename = "smollm2-135m-instruct-q4_k_m.gguf"

    [[models.router.adapters]]
    repo = "acme/router-lora"            # on the hub: repo + filename (+ revision, sha256)
    filename = "router-f16.gguf"
    scale = 0.8

    [[models.router.adapters]]
    path = "/srv/adapters/tone.gguf"     # or a local file, by absolute path

In code (a Modelfile's ``ADAPTER`` line, the CLI), :meth:`Adapter.parse` reads
``org/repo:file.gguf`` or an absolute path. Once facecrab holds the file, the engine
gets an :class:`AdapterFile`: the verified local path, its scale and a name. Several
aliases over the same base file share one loaded base; each request carries its own
adapter set (:data:`AdapterSet`).
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Final

import attrs

from ._converter import omit_defaults
from ._errors import ManifestError
from ._limits import ADAPTER_SCALE, BYTE_SIZE
from ._record import Record
from ._validators import Refusal, as_validator, non_empty_str, number, optional
from ._validators import relative as _relative
from ._validators import repo as _repo
from ._validators import revision as _revision
from ._validators import sha256 as _sha256

__all__ = ["Adapter", "AdapterFile", "AdapterSet", "adapter_set_key"]

_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


def _gguf_file(value: Any) -> Any:
    _relative(value)
    if not value.lower().endswith(".gguf"):
        raise Refusal(f"{value!r} is not a .gguf file")
    return value


def _local_path(value: Any) -> Any:
    if not isinstance(value, str) or not value:
        raise Refusal(f"must be a non-empty string, got {value!r}")
    if _CONTROL.search(value):
        raise Refusal(f"{value!r} must not contain control characters")
    if not (PurePosixPath(value).is_absolute() or PureWindowsPath(value).is_absolute()):
        raise Refusal(f"{value!r} must be an absolute path")
    return value


def _name(value: Any) -> Any:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise Refusal(f"{value!r} must be letters, digits, '.', '_', ':' or '-' (at most 128)")
    return value


def _checked(check: Any) -> Any:
    return as_validator(optional(check), ManifestError)


def _one_place(adapter: Adapter) -> None:
    """Exactly one place: ``repo`` with ``filename``, or ``path``."""
    if adapter.path is not None:
        for key in ("repo", "filename", "revision"):
            if getattr(adapter, key) is not None:
                raise Refusal("belongs to a hub adapter; a local 'path' takes none", at=f".{key}")
        return
    if adapter.repo is None:
        raise Refusal("needs 'repo' and 'filename' (on the hub) or 'path' (a local file)")
    if adapter.filename is None:
        raise Refusal(
            f"is missing: an adapter in {adapter.repo!r} needs its .gguf file's name",
            at=".filename",
        )


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Adapter(Record):
    """A LoRA adapter over a model entry's base: a hub file or a local path, and its scale.

    ``scale`` multiplies the adapter's effect (0 is the base model); ``name`` is what
    output, listings and upstream servers call it (by default the file's stem).
    """

    repo: str | None = attrs.field(default=None, validator=_checked(_repo))
    filename: str | None = attrs.field(default=None, validator=_checked(_gguf_file))
    revision: str | None = attrs.field(default=None, validator=_checked(_revision))
    path: str | None = attrs.field(default=None, validator=_checked(_local_path))
    sha256: str | None = attrs.field(default=None, validator=_checked(_sha256))
    size: int | None = attrs.field(default=None, validator=_checked(number(BYTE_SIZE)))
    scale: float = attrs.field(
        default=1.0, validator=as_validator(number(ADAPTER_SCALE), ManifestError)
    )
    name: str | None = attrs.field(default=None, validator=_checked(_name))

    def __attrs_post_init__(self) -> None:
        try:
            _one_place(self)
        except Refusal as refusal:
            raise ManifestError(f"Adapter{refusal.at} {refusal}") from None

    @classmethod
    def parse(cls, text: str, *, scale: float = 1.0) -> Adapter:
        """``org/repo:file.gguf`` (on the hub) or an absolute path, as an :class:`Adapter`.

        A relative path is refused: the caller (a Modelfile's directory, the shell's
        working directory) knows what it is relative to and makes it absolute first.
        """
        if not isinstance(text, str) or not text.strip():
            raise ManifestError(f"adapter reference must be a non-empty string, got {text!r}")
        text = text.strip()
        if PurePosixPath(text).is_absolute() or PureWindowsPath(text).is_absolute():
            return cls(path=text, scale=scale)
        repo, sep, filename = text.partition(":")
        if not sep or "/" not in repo:
            raise ManifestError(
                f"adapter reference {text!r} is neither 'org/repo:file.gguf' nor an absolute path"
            )
        if not filename:
            raise ManifestError(f"adapter reference {text!r} names no file after ':'")
        return cls(repo=repo, filename=filename, scale=scale)

    @property
    def label(self) -> str:
        """The adapter's name: ``name``, else its file's stem."""
        if self.name is not None:
            return self.name
        file = self.path if self.path is not None else self.filename
        assert file is not None
        stem = re.split(r"[/\\]", file)[-1]
        return stem[:-5] if stem.lower().endswith(".gguf") else stem

    def __str__(self) -> str:
        if self.path is not None:
            return self.path
        return f"{self.repo}:{self.filename}"


omit_defaults(Adapter)


def _absolute(value: Any) -> Any:
    if not isinstance(value, Path) or not value.is_absolute():
        raise Refusal(f"must be an absolute path, got {value!r}")
    return value


@attrs.frozen(kw_only=True, repr=False, eq=False)
class AdapterFile(Record):
    """A LoRA adapter ready to apply: its verified local file, its scale and its name."""

    name: str = attrs.field(validator=non_empty_str(ManifestError))
    path: Path = attrs.field(validator=as_validator(_absolute, ManifestError))
    scale: float = attrs.field(
        default=1.0, validator=as_validator(number(ADAPTER_SCALE), ManifestError)
    )


AdapterSet = tuple[AdapterFile, ...]
"""The adapters one request runs under, in order; ``()`` is the base model alone."""


def adapter_set_key(adapters: AdapterSet) -> tuple[tuple[str, float], ...]:
    """What makes two adapter sets compute the same logits: files and scales, in order.

    Adapters at scale 0 change nothing and are left out, so ``()`` and a set of
    zero-scaled adapters share a key (and a decode batch, and cached prompts).
    """
    return tuple((str(a.path), float(a.scale)) for a in adapters if a.scale != 0)
