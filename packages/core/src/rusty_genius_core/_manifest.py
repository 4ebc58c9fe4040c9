"""Model references, manifests and resolved model specs.

A user (or facecrab's embedded ``models.toml``) writes a :class:`UserManifest`:
``[defaults]`` plus ``[models.ALIAS]`` entries that may leave fields out. A
:class:`ModelSpec` is what remains once an entry is complete: every field the
asset authority needs to fetch and verify one file.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from typing import Any, Final

import attrs

from ._errors import ManifestError
from ._limits import BYTE_SIZE
from ._validators import (
    check_relative_path,
    check_repo_id,
    enum_converter,
    non_empty_str,
    number_in,
    relative_path,
    repo_id,
    typed,
)

__all__ = [
    "DEFAULT_REVISION",
    "ModelEntry",
    "ModelReference",
    "ModelSpec",
    "Purpose",
    "UserManifest",
    "filename_matches_quant",
    "merge_manifests",
]

DEFAULT_REVISION: Final = "main"
_QUANT = re.compile(r"^[A-Za-z0-9_]{1,32}$")
_ALIAS = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_REVISION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$")


class Purpose(enum.StrEnum):
    """What a model is for: ``completion`` models have no chat template."""

    CHAT = "chat"
    COMPLETION = "completion"
    EMBEDDING = "embedding"


def _quant(value: str | None, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _QUANT.fullmatch(value):
        raise ManifestError(f"{where} {value!r} is not a quantization name like 'Q4_K_M'")
    return value.upper()


def _check_upper_quant(value: object, where: str) -> None:
    _quant(value, where)  # type: ignore[arg-type]
    assert isinstance(value, str)
    if value != value.upper():
        raise ManifestError(f"{where} {value!r} must be upper case")


def _check_revision(value: str, where: str) -> None:
    if not isinstance(value, str) or not _REVISION.fullmatch(value) or ".." in value:
        raise ManifestError(f"{where} {value!r} is not a valid revision (branch, tag or commit)")


def _check_sha256(value: str | None, where: str) -> None:
    if value is not None and (not isinstance(value, str) or not _SHA256.fullmatch(value)):
        raise ManifestError(f"{where} must be 64 lowercase hex digits, got {value!r}")


def filename_matches_quant(filename: str, quantization: str) -> bool:
    """True when ``filename`` names ``quantization`` as a whole token, ignoring case.

    ``Q4_K`` must not match ``q4_k_m``, so the token must end at a separator.
    """
    pattern = rf"(^|[^A-Za-z0-9]){re.escape(quantization)}($|[^A-Za-z0-9_])"
    return re.search(pattern, filename, flags=re.IGNORECASE) is not None


@attrs.frozen(kw_only=True)
class ModelReference:
    """A parsed reference: an ``alias``, or a ``repo`` with an optional quantization.

    Accepted forms: ``name`` (registry alias), ``org/repo`` (default quantization)
    and ``org/repo:QUANT``.
    """

    alias: str | None = None
    repo: str | None = None
    quantization: str | None = None

    def __attrs_post_init__(self) -> None:
        if (self.alias is None) == (self.repo is None):
            raise ManifestError("ModelReference needs exactly one of 'alias' or 'repo'")
        if self.alias is not None and (
            not isinstance(self.alias, str)
            or not _ALIAS.fullmatch(self.alias)
            or ".." in self.alias
        ):
            raise ManifestError(f"ModelReference.alias {self.alias!r} is not a valid alias")
        if self.repo is not None:
            check_repo_id(self.repo, ManifestError, "ModelReference.repo")
        if self.quantization is not None:
            if self.repo is None:
                raise ManifestError("ModelReference.quantization needs a repo")
            _check_upper_quant(self.quantization, "ModelReference.quantization")

    @classmethod
    def parse(cls, text: str) -> ModelReference:
        if not isinstance(text, str) or not text.strip():
            raise ManifestError(f"model reference must be a non-empty string, got {text!r}")
        text = text.strip()
        if "/" not in text and "\\" not in text:
            if ":" in text:
                raise ManifestError(
                    f"model reference {text!r}: a quantization needs a repo, as in 'org/repo:Q4_K_M'"
                )
            if not _ALIAS.fullmatch(text.lower()) or ".." in text:
                raise ManifestError(f"model reference {text!r} is not a valid alias")
            return cls(alias=text.lower())
        repo, sep, quant = text.partition(":")
        if sep and not quant:
            raise ManifestError(f"model reference {text!r} has an empty quantization after ':'")
        check_repo_id(repo, ManifestError, f"model reference {text!r}: repo")
        return cls(
            repo=repo, quantization=_quant(quant or None, f"model reference {text!r}: quantization")
        )

    def __str__(self) -> str:
        if self.alias is not None:
            return self.alias
        assert self.repo is not None
        return f"{self.repo}:{self.quantization}" if self.quantization else self.repo


def _purpose(value: object) -> Purpose:
    return enum_converter(Purpose, ManifestError, "ModelSpec.purpose")(value)


@attrs.frozen(kw_only=True)
class ModelSpec:
    """A fully resolved model: enough to fetch, verify and load one GGUF.

    ``filename`` is the first part of a split GGUF; facecrab fetches the rest.
    """

    name: str = attrs.field(validator=non_empty_str(ManifestError))
    repo: str = attrs.field(validator=repo_id(ManifestError))
    filename: str = attrs.field(validator=relative_path(ManifestError))
    quantization: str = attrs.field(validator=typed(str, ManifestError))
    revision: str = attrs.field(default=DEFAULT_REVISION)
    sha256: str | None = attrs.field(default=None)
    size: int | None = attrs.field(
        default=None, validator=number_in(BYTE_SIZE, ManifestError, optional=True)
    )
    purpose: Purpose = attrs.field(
        default=Purpose.CHAT,
        converter=_purpose,
        validator=typed(Purpose, ManifestError),
    )

    def __attrs_post_init__(self) -> None:
        _check_upper_quant(self.quantization, "ModelSpec.quantization")
        _check_revision(self.revision, "ModelSpec.revision")
        _check_sha256(self.sha256, "ModelSpec.sha256")
        if not self.filename.lower().endswith(".gguf"):
            raise ManifestError(f"ModelSpec.filename {self.filename!r} is not a .gguf file")

    @property
    def reference(self) -> str:
        return f"{self.repo}:{self.quantization}"


_ENTRY_KEYS: Final = frozenset(
    {"repo", "filename", "quantization", "revision", "sha256", "size", "purpose"}
)
_DEFAULT_KEYS: Final = frozenset({"quantization", "revision", "purpose"})
_TOP_KEYS: Final = frozenset({"defaults", "models"})
# Fields that describe one repo's file: they must not survive a change of repo.
_REPO_BOUND: Final = ("filename", "sha256", "size")


@attrs.frozen(kw_only=True)
class ModelEntry:
    """A partial model entry as written in a manifest: any field may be missing."""

    repo: str | None = None
    filename: str | None = None
    quantization: str | None = None
    revision: str | None = None
    sha256: str | None = None
    size: int | None = None
    purpose: Purpose | None = None

    def __attrs_post_init__(self) -> None:
        """The same checks as :meth:`from_dict`, for entries built in code."""
        if self.repo is not None:
            check_repo_id(self.repo, ManifestError, "ModelEntry.repo")
        if self.filename is not None:
            check_relative_path(self.filename, ManifestError, "ModelEntry.filename")
        if self.quantization is not None:
            _check_upper_quant(self.quantization, "ModelEntry.quantization")
        if self.revision is not None:
            _check_revision(self.revision, "ModelEntry.revision")
        _check_sha256(self.sha256, "ModelEntry.sha256")
        if self.size is not None and (
            isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0
        ):
            raise ManifestError(
                f"ModelEntry.size must be a non-negative integer, got {self.size!r}"
            )
        if self.purpose is not None and not isinstance(self.purpose, Purpose):
            raise ManifestError(f"ModelEntry.purpose must be a Purpose, got {self.purpose!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> ModelEntry:
        if not isinstance(data, Mapping):
            raise ManifestError(f"{where} must be a table, got {type(data).__name__}")
        unknown = sorted(set(data) - _ENTRY_KEYS)
        if unknown:
            raise ManifestError(
                f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_ENTRY_KEYS))}"
            )
        repo = data.get("repo")
        if repo is not None:
            check_repo_id(repo, ManifestError, f"{where}.repo")
        filename = data.get("filename")
        if filename is not None:
            check_relative_path(filename, ManifestError, f"{where}.filename")
        revision = data.get("revision")
        if revision is not None:
            _check_revision(revision, f"{where}.revision")
        sha = data.get("sha256")
        _check_sha256(sha, f"{where}.sha256")
        size = data.get("size")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            raise ManifestError(f"{where}.size must be a non-negative integer, got {size!r}")
        purpose = data.get("purpose")
        if purpose is not None:
            try:
                purpose = Purpose(purpose)
            except ValueError:
                allowed = ", ".join(p.value for p in Purpose)
                raise ManifestError(
                    f"{where}.purpose {purpose!r} is not one of {allowed}"
                ) from None
        entry = cls(
            repo=repo,
            filename=filename,
            quantization=_quant(data.get("quantization"), f"{where}.quantization"),
            revision=revision,
            sha256=sha,
            size=size,
            purpose=purpose,
        )
        entry.check_consistent(where)
        return entry

    def check_consistent(self, where: str) -> None:
        if (
            self.filename is not None
            and self.quantization is not None
            and not filename_matches_quant(self.filename.rsplit("/", 1)[-1], self.quantization)
        ):
            raise ManifestError(
                f"{where}: filename {self.filename!r} does not match quantization {self.quantization!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            k: (v.value if isinstance(v, Purpose) else v)
            for k, v in attrs.asdict(self).items()
            if v is not None
        }

    def over(self, base: ModelEntry) -> ModelEntry:
        """This entry's fields over ``base``'s; a different repo drops ``base``'s file fields."""
        inherited = attrs.asdict(base, recurse=False)
        if self.repo is not None and base.repo is not None and self.repo != base.repo:
            for key in _REPO_BOUND:
                inherited[key] = None
        if self.quantization is not None and base.quantization != self.quantization:
            for key in _REPO_BOUND:
                inherited[key] = None
        mine = {k: v for k, v in attrs.asdict(self, recurse=False).items() if v is not None}
        return ModelEntry(**{**inherited, **mine})


@attrs.frozen(kw_only=True)
class UserManifest:
    """A manifest as a user or ``models.toml`` writes it: defaults and partial entries."""

    defaults: ModelEntry = attrs.field(factory=ModelEntry)
    models: Mapping[str, ModelEntry] = attrs.field(factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "manifest") -> UserManifest:
        if not isinstance(data, Mapping):
            raise ManifestError(f"{source} must be a table, got {type(data).__name__}")
        unknown = sorted(set(data) - _TOP_KEYS)
        if unknown:
            raise ManifestError(
                f"{source}: unknown top-level key(s) {', '.join(unknown)}; allowed: defaults, models"
            )
        raw_defaults = data.get("defaults", {})
        if isinstance(raw_defaults, Mapping):
            bad = sorted(set(raw_defaults) - _DEFAULT_KEYS)
            if bad:
                raise ManifestError(
                    f"{source}: [defaults] cannot set {', '.join(bad)}; "
                    f"allowed: {', '.join(sorted(_DEFAULT_KEYS))}"
                )
        defaults = ModelEntry.from_dict(raw_defaults, f"{source}: [defaults]")
        raw_models = data.get("models", {})
        if not isinstance(raw_models, Mapping):
            raise ManifestError(f"{source}: [models] must be a table")
        models: dict[str, ModelEntry] = {}
        for alias, raw in raw_models.items():
            if not isinstance(alias, str) or not _ALIAS.fullmatch(alias) or ".." in alias:
                raise ManifestError(
                    f"{source}: model alias {alias!r} must be lower case letters, digits, '.', '_' or '-'"
                )
            where = f"{source}: [models.{alias}]"
            models[alias] = entry = ModelEntry.from_dict(raw, where)
            _check_with_defaults(entry, defaults, where)
        return cls(defaults=defaults, models=models)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if d := self.defaults.to_dict():
            out["defaults"] = d
        out["models"] = {alias: e.to_dict() for alias, e in sorted(self.models.items())}
        return out

    def entry(self, alias: str) -> ModelEntry | None:
        """The entry for ``alias`` with the manifest's defaults filled in."""
        found = self.models.get(alias)
        return None if found is None else found.over(self.defaults)

    def find_repo(self, repo: str) -> tuple[str, ModelEntry] | None:
        """The first alias whose entry names ``repo`` (ignoring case), with defaults filled."""
        for alias, entry in self.models.items():
            if entry.repo is not None and entry.repo.lower() == repo.lower():
                return alias, entry.over(self.defaults)
        return None


def merge_manifests(base: UserManifest, override: UserManifest) -> UserManifest:
    """``override`` over ``base``, field by field.

    An entry in ``override`` that names a different repo than ``base``'s entry of
    the same alias replaces it whole; file-bound fields (filename, sha256, size)
    never leak from one repo onto another, nor onto another quantization: when
    ``override``'s ``[defaults]`` choose a quantization that a file ``base`` pinned
    does not match, that pin is dropped. A merged entry whose filename and
    quantization still disagree raises :class:`ManifestError` naming the alias.
    """
    defaults = override.defaults.over(base.defaults)
    models = dict(base.models)
    for alias, entry in override.models.items():
        old = models.get(alias)
        replaced = old is None or (entry.repo is not None and entry.repo != old.repo)
        merged = entry if replaced or old is None else entry.over(old)
        merged.check_consistent(f"merged manifest: [models.{alias}]")
        models[alias] = merged
    for alias, entry in models.items():
        own = override.models.get(alias)
        if (own is None or own.filename is None) and not _agrees_with_defaults(entry, defaults):
            # The quantization moved away from a file only ``base`` pinned: unpin it.
            entry = models[alias] = attrs.evolve(entry, **dict.fromkeys(_REPO_BOUND))
        _check_with_defaults(entry, defaults, f"merged manifest: [models.{alias}]")
    return UserManifest(defaults=defaults, models=models)


def _agrees_with_defaults(entry: ModelEntry, defaults: ModelEntry) -> bool:
    if entry.quantization is not None or entry.filename is None or defaults.quantization is None:
        return True
    return filename_matches_quant(entry.filename.rsplit("/", 1)[-1], defaults.quantization)


def _check_with_defaults(entry: ModelEntry, defaults: ModelEntry, where: str) -> None:
    """An entry's filename must match the quantization it gets from ``[defaults]``."""
    if not _agrees_with_defaults(entry, defaults):
        raise ManifestError(
            f"{where}: filename {entry.filename!r} does not match quantization "
            f"{defaults.quantization!r} (from [defaults]); set the entry's own quantization"
        )
