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

from ._adapter import Adapter
from ._converter import converter, enums, omit_defaults, structure
from ._created import _template_check as template_check
from ._created import _toml_plain as toml_plain
from ._errors import ManifestError
from ._limits import BYTE_SIZE, CONTEXT_SIZE, MAX_ADAPTERS
from ._mirror import Mirror
from ._parameters import Parameters
from ._protocol import ChatMessage
from ._record import Record
from ._validators import (
    Refusal,
    as_tuple,
    as_validator,
    check_repo_id,
    decoded,
    each_is,
    enum_converter,
    non_empty_str,
    number_in,
    optional,
    typed,
)
from ._validators import relative as _relative
from ._validators import repo as _repo
from ._validators import revision as _revision
from ._validators import sha256 as _sha256

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


class Purpose(enum.StrEnum):
    """What a model is for: ``completion`` models have no chat template."""

    CHAT = "chat"
    COMPLETION = "completion"
    EMBEDDING = "embedding"


enums(Purpose)


def _quant_name(value: Any) -> Any:
    if not isinstance(value, str) or not _QUANT.fullmatch(value):
        raise Refusal(f"{value!r} is not a quantization name like 'Q4_K_M'")
    return value


def _upper_quant(value: Any) -> Any:
    if _quant_name(value) != value.upper():
        raise Refusal(f"{value!r} must be upper case")
    return value


def _any_case_quant(value: Any) -> Any:
    """What a manifest may write: any case, upper-cased here."""
    return _quant_name(value).upper()


def _gguf_file(value: Any) -> Any:
    _relative(value)
    if not value.lower().endswith(".gguf"):
        raise Refusal(f"{value!r} is not a .gguf file")
    return value


def _quant(value: str | None, where: str) -> str | None:
    return None if value is None else _require(_any_case_quant, value, where)


def _require(check: Any, value: object, where: str) -> Any:
    try:
        return check(value)
    except Refusal as refusal:
        raise ManifestError(f"{where} {refusal}") from None


def filename_matches_quant(filename: str, quantization: str) -> bool:
    """True when ``filename`` names ``quantization`` as a whole token, ignoring case.

    ``Q4_K`` must not match ``q4_k_m``, so the token must end at a separator.
    """
    pattern = rf"(^|[^A-Za-z0-9]){re.escape(quantization)}($|[^A-Za-z0-9_])"
    return re.search(pattern, filename, flags=re.IGNORECASE) is not None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ModelReference(Record):
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
            _require(_upper_quant, self.quantization, "ModelReference.quantization")

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


def _adapters(value: Any) -> Any:
    """A manifest's ``adapters`` list: :class:`Adapter` values, at most ``MAX_ADAPTERS``."""
    if not isinstance(value, tuple) or not all(isinstance(a, Adapter) for a in value):
        raise Refusal(f"must be a list of adapters, got {value!r}")
    if len(value) > MAX_ADAPTERS:
        raise Refusal(f"lists {len(value)} adapters; at most {MAX_ADAPTERS}")
    labels = [a.label for a in value]
    for i, label in enumerate(labels):
        if label in labels[:i]:
            raise Refusal(f"names the adapter {label!r} twice", at=f"[{i}]")
    return value


def _purpose(value: object) -> Purpose:
    return enum_converter(Purpose, ManifestError, "ModelSpec.purpose")(value)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ModelSpec(Record):
    """A fully resolved model: enough to fetch, verify and load one GGUF.

    ``filename`` is the first part of a split GGUF; facecrab fetches the rest.
    """

    name: str = attrs.field(validator=non_empty_str(ManifestError))
    repo: str = attrs.field(validator=as_validator(_repo, ManifestError))
    filename: str = attrs.field(validator=as_validator(_gguf_file, ManifestError))
    quantization: str = attrs.field(validator=as_validator(_upper_quant, ManifestError))
    revision: str = attrs.field(
        default=DEFAULT_REVISION, validator=as_validator(_revision, ManifestError)
    )
    sha256: str | None = attrs.field(
        default=None, validator=as_validator(optional(_sha256), ManifestError)
    )
    size: int | None = attrs.field(
        default=None, validator=number_in(BYTE_SIZE, ManifestError, optional=True)
    )
    purpose: Purpose = attrs.field(
        default=Purpose.CHAT,
        converter=_purpose,
        validator=typed(Purpose, ManifestError),
    )
    adapters: tuple[Adapter, ...] = attrs.field(
        default=(), converter=as_tuple, validator=as_validator(_adapters, ManifestError)
    )
    """LoRA adapters applied over this file (``()``: the base model alone)."""
    template: str | None = attrs.field(
        default=None, validator=as_validator(optional(template_check), ManifestError)
    )
    """A created model's Jinja chat template, replacing the GGUF's own."""
    context_size: int | None = attrs.field(
        default=None, validator=number_in(CONTEXT_SIZE, ManifestError, optional=True)
    )
    """A created model's ``num_ctx``: the context it loads with unless the load sets one."""

    @property
    def reference(self) -> str:
        return f"{self.repo}:{self.quantization}"


def _mirrors(value: Any) -> Any:
    if not isinstance(value, tuple) or not all(isinstance(m, Mirror) for m in value):
        raise Refusal(f"must be a list of mirrors, got {value!r}")
    if len(value) > 16:
        raise Refusal(f"lists {len(value)} mirrors; at most 16")
    return value


def _base(value: Any) -> Any:
    if not isinstance(value, str):
        raise Refusal(f"must be a model reference string, got {value!r}")
    try:
        ModelReference.parse(value)
    except ManifestError as exc:
        raise Refusal(exc.message) from None
    return value


def _messages(value: Any) -> Any:
    if not isinstance(value, tuple):
        raise Refusal(f"must be a list of chat messages, got {value!r}")
    each_is(value, ChatMessage, "a chat message")
    return value


def _checked(check: Any) -> Any:
    """A validator running ``check`` on a field that may be unset (``None``)."""
    return as_validator(optional(check), ManifestError)


_DEFAULT_KEYS: Final = frozenset({"quantization", "revision", "purpose"})
# Fields that describe one repo's file: they must not survive a change of repo.
_REPO_BOUND: Final = ("filename", "sha256", "size", "mirrors")


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ModelEntry(Record):
    """A partial model entry as written in a manifest: any field may be missing."""

    repo: str | None = attrs.field(default=None, validator=_checked(_repo))
    filename: str | None = attrs.field(default=None, validator=_checked(_relative))
    quantization: str | None = attrs.field(
        default=None,
        validator=_checked(_upper_quant),
        metadata=decoded(optional(_any_case_quant)),  # a manifest may write q4_k_m
    )
    revision: str | None = attrs.field(default=None, validator=_checked(_revision))
    sha256: str | None = attrs.field(default=None, validator=_checked(_sha256))
    size: int | None = attrs.field(
        default=None, validator=number_in(BYTE_SIZE, ManifestError, optional=True)
    )
    purpose: Purpose | None = attrs.field(
        default=None, validator=typed((Purpose, type(None)), ManifestError)
    )
    mirrors: tuple[Mirror, ...] | None = attrs.field(
        default=None, converter=as_tuple, validator=_checked(_mirrors)
    )
    """Other places serving this entry's file, tried in order after the hub (see ``Mirror``)."""
    adapters: tuple[Adapter, ...] | None = attrs.field(
        default=None, converter=as_tuple, validator=_checked(_adapters)
    )
    """LoRA adapters over this entry's base file (see ``Adapter``); aliases over one base
    file with different adapters share one loaded copy of it."""
    base: str | None = attrs.field(default=None, validator=_checked(_base))
    """A created model's ``FROM``: the alias or ``org/repo[:QUANT]`` it runs on."""
    system: str | None = attrs.field(
        default=None, validator=typed((str, type(None)), ManifestError)
    )
    """The system prompt a request without one gets."""
    template: str | None = attrs.field(default=None, validator=_checked(template_check))
    """A Jinja chat template replacing the GGUF's own ``tokenizer.chat_template``."""
    parameters: Parameters | None = attrs.field(
        default=None, validator=typed((Parameters, type(None)), ManifestError)
    )
    """Sampling and context defaults under each request's own options."""
    messages: tuple[ChatMessage, ...] | None = attrs.field(
        default=None, converter=as_tuple, validator=_checked(_messages)
    )
    """Chat turns every request's messages follow."""
    license: str | None = attrs.field(
        default=None, validator=typed((str, type(None)), ManifestError)
    )
    """A Modelfile's ``LICENSE`` text, stored and shown, never enforced."""

    @property
    def created(self) -> bool:
        """Whether this entry was made by ``create`` (it names a base model)."""
        return self.base is not None

    def check_consistent(self, where: str) -> None:
        if self.base is not None and (self.repo is not None or self.filename is not None):
            raise ManifestError(f"{where}: sets both 'base' and a repo or filename; choose one")
        if (
            self.filename is not None
            and self.quantization is not None
            and not filename_matches_quant(self.filename.rsplit("/", 1)[-1], self.quantization)
        ):
            raise ManifestError(
                f"{where}: filename {self.filename!r} does not match quantization {self.quantization!r}"
            )

    def over(self, base: ModelEntry) -> ModelEntry:
        """This entry's fields over ``base``'s; a different repo drops ``base``'s file fields."""
        inherited = attrs.asdict(base, recurse=False)
        if self.repo is not None and base.repo is not None and self.repo != base.repo:
            for key in _REPO_BOUND:
                inherited[key] = None
            inherited["adapters"] = None  # trained on another model
        if self.quantization is not None and base.quantization != self.quantization:
            for key in _REPO_BOUND:
                inherited[key] = None
        mine = {k: v for k, v in attrs.asdict(self, recurse=False).items() if v is not None}
        if self.parameters is not None and base.parameters is not None:
            mine["parameters"] = self.parameters.over(base.parameters)
        return ModelEntry(**{**inherited, **mine})


@attrs.frozen(kw_only=True, repr=False, eq=False)
class UserManifest(Record):
    """A manifest as a user or ``models.toml`` writes it: defaults and partial entries."""

    defaults: ModelEntry = attrs.field(factory=ModelEntry)
    models: Mapping[str, ModelEntry] = attrs.field(factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "manifest") -> UserManifest:
        """Read a manifest's tables; the converter checks each entry's fields."""
        if not isinstance(data, Mapping):
            raise ManifestError(f"{source} must be a table, got {type(data).__name__}")
        unknown = sorted(set(data) - {"defaults", "models"})
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
        defaults = _entry(raw_defaults, f"{source}: [defaults]")
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
            models[alias] = entry = _entry(raw, where)
            _check_with_defaults(entry, defaults, where)
        return cls(defaults=defaults, models=models)

    def to_dict(self) -> dict[str, Any]:
        """Plain TOML-ready tables: unset fields and empty ``[defaults]`` left out."""
        return toml_plain(converter.unstructure(self))  # type: ignore[no-any-return]

    def entry(self, alias: str) -> ModelEntry | None:
        """The entry for ``alias`` with the manifest's defaults filled in; a created
        entry (one with a ``base``) over its base's entry, followed to the end."""
        found = self.models.get(alias)
        return None if found is None else self._based(alias, found, ()).over(self.defaults)

    def _based(self, alias: str, entry: ModelEntry, seen: tuple[str, ...]) -> ModelEntry:
        if entry.base is None:
            return entry
        if alias in seen:
            raise ManifestError(f"[models.{alias}]: its base chain loops: {' -> '.join(seen)}")
        ref = ModelReference.parse(entry.base)
        own = attrs.evolve(entry, base=None)
        if ref.repo is not None:
            known = self.find_repo(ref.repo)
            under = ModelEntry(repo=ref.repo, quantization=ref.quantization)
            if known is not None and ref.quantization in (None, known[1].quantization):
                under = known[1]
            return attrs.evolve(own.over(under), base=entry.base)
        assert ref.alias is not None
        below = self.models.get(ref.alias)
        if below is None:
            raise ManifestError(
                f"[models.{alias}]: its base {entry.base!r} is no model any manifest defines"
            )
        resolved = self._based(ref.alias, below, (*seen, alias))
        return attrs.evolve(own.over(resolved), base=entry.base)

    def find_repo(self, repo: str) -> tuple[str, ModelEntry] | None:
        """The first alias whose entry names ``repo`` (ignoring case), with defaults filled."""
        for alias, entry in self.models.items():
            if entry.repo is not None and entry.repo.lower() == repo.lower():
                return alias, entry.over(self.defaults)
        return None


def _entry(data: object, where: str) -> ModelEntry:
    if not isinstance(data, Mapping):
        raise ManifestError(f"{where} must be a table, got {type(data).__name__}")
    entry: ModelEntry = structure(data, ModelEntry, error=ManifestError, where=where)
    entry.check_consistent(where)
    return entry


omit_defaults(ModelEntry)
omit_defaults(UserManifest, "defaults")


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
