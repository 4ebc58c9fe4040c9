"""From a reference to the exact files to fetch: manifest, registry, then the hub's tree.

``alias`` or ``org/repo[:QUANT]`` first becomes a :class:`Wanted` (the manifest fills in
what it knows). If that names one file with its sha256 and size, nothing else is needed.
Otherwise the repo's tree is listed through huggingface_hub and the GGUF whose name
carries the quantization as a whole token is picked, with every part of a split GGUF.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs

from rusty_genius_core import (
    DEFAULT_REVISION,
    Adapter,
    ManifestError,
    Mirror,
    ModelReference,
    ModelSpec,
    Purpose,
    UserManifest,
    filename_matches_quant,
)
from rusty_genius_core._record import Record

from ._errors import (
    AmbiguousQuantizationError,
    DownloadError,
    IntegrityError,
    ModelNotFoundError,
    OfflineError,
    QuantizationNotFoundError,
    RepoNotFoundError,
    RevisionNotFoundError,
)
from ._reach import probe_hub, quiet_hub_retries
from ._threads import Stopped, run_stoppable

if TYPE_CHECKING:
    import threading
    from collections.abc import Iterable, Mapping, Sequence

    from rusty_genius_core import ModelEntry

    from ._registry import RegistryEntry

__all__ = [
    "RemoteFile",
    "Resolution",
    "Wanted",
    "list_repo_files",
    "pinned",
    "quantization_of",
    "select_gguf",
    "split_parts",
    "wanted",
]

T = TypeVar("T")
_SPLIT: Final = re.compile(r"^(?P<stem>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.gguf$", re.I)
_QUANT_TOKEN: Final = re.compile(
    r"(?<![A-Za-z0-9])(I?Q\d+(?:_[A-Z0-9]+)*|BF16|F16|F32|FP16|FP8)(?![A-Za-z0-9])", re.I
)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class RemoteFile(Record):
    """A file of the repo: its in-repo path, and the LFS size and sha256 when listed."""

    filename: str
    size: int | None
    sha256: str | None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Wanted(Record):
    """What a reference asks for once the manifest filled in what it knows."""

    name: str
    repo: str
    quantization: str
    revision: str
    filename: str | None = None
    sha256: str | None = None
    size: int | None = None
    purpose: Purpose = Purpose.CHAT
    mirrors: tuple[Mirror, ...] = ()
    adapters: tuple[Adapter, ...] = ()
    template: str | None = None
    context_size: int | None = None

    @classmethod
    def of_entry(cls, name: str, repo: str, entry: ModelEntry) -> Wanted:
        """What a manifest entry (its defaults filled in) asks for from ``repo``, as ``name``."""
        return cls(
            name=name,
            repo=repo,
            quantization=entry.quantization or "Q4_K_M",
            revision=entry.revision or DEFAULT_REVISION,
            filename=entry.filename,
            sha256=entry.sha256,
            size=entry.size,
            purpose=entry.purpose or Purpose.CHAT,
            mirrors=entry.mirrors or (),
            adapters=entry.adapters or (),
            template=entry.template,
            context_size=entry.parameters.context_size if entry.parameters else None,
        )

    def created_fields(self) -> dict[str, Any]:
        """What a spec from the registry takes from the entry: adapters, a created
        model's template and context size."""
        return {
            "adapters": self.adapters,
            "template": self.template,
            "context_size": self.context_size,
        }

    @property
    def complete(self) -> bool:
        """One known file with its checksum: no need to list the repo."""
        return (
            self.filename is not None
            and self.sha256 is not None
            and self.size is not None
            and _SPLIT.match(self.filename.rsplit("/", 1)[-1]) is None
        )

    def matches(self, entry: RegistryEntry) -> bool:
        """Whether a registry entry is this model (same repo, file or quant, revision)."""
        if entry.repo.lower() != self.repo.lower():
            return False
        if self.filename is not None:
            if entry.filename != self.filename:
                return False
        elif entry.quantization != self.quantization:
            return False
        if self.revision not in (entry.revision, entry.commit):
            return False
        return self.sha256 is None or entry.sha256 == self.sha256

    def spec(self, filename: str, sha256: str | None, size: int | None) -> ModelSpec:
        return ModelSpec(
            name=self.name,
            repo=self.repo,
            filename=filename,
            quantization=self.quantization,
            revision=self.revision,
            sha256=sha256,
            size=size,
            purpose=self.purpose,
            adapters=self.adapters,
            template=self.template,
            context_size=self.context_size,
        )


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Resolution(Record):
    """A complete answer: the spec, and every file to fetch (the spec's file first)."""

    spec: ModelSpec
    files: tuple[RemoteFile, ...]


def _known_models(manifest: UserManifest) -> tuple[str, ...]:
    return tuple(
        f"{alias} ({entry.repo})" if entry.repo else alias
        for alias, entry in sorted(manifest.models.items())
    )


def wanted(text: str, manifest: UserManifest) -> Wanted:
    """Parse ``text`` and fill it in from ``manifest``. Raises ManifestError or ModelNotFoundError."""
    ref = ModelReference.parse(text)
    defaults = manifest.defaults
    if ref.alias is not None:
        entry = manifest.entry(ref.alias)
        if entry is None:
            close = _close_matches(ref.alias, list(manifest.models), 0.6)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            known = _known_models(manifest)
            raise ModelNotFoundError(
                f"model {text!r} is not an alias any manifest defines.{hint} "
                f"Known models: {', '.join(known)}; or name a repo as 'org/repo:QUANT'",
                known,
            )
        if entry.repo is None:
            raise ManifestError(f"manifest entry {ref.alias!r} names no repo")
        return Wanted.of_entry(ref.alias, entry.repo, entry)
    assert ref.repo is not None
    for _alias, raw in manifest.models.items():
        entry = raw.over(defaults)
        same_repo = entry.repo is not None and entry.repo.lower() == ref.repo.lower()
        if same_repo and (ref.quantization is None or ref.quantization == entry.quantization):
            return Wanted.of_entry(str(ref), ref.repo, entry)
    return Wanted(
        name=str(ref),
        repo=ref.repo,
        quantization=ref.quantization or defaults.quantization or "Q4_K_M",
        revision=defaults.revision or DEFAULT_REVISION,
        purpose=defaults.purpose or Purpose.CHAT,
    )


def quantization_of(filename: str) -> str | None:
    """The quantization token a GGUF's name carries (``Q4_K_M``, ``IQ2_XXS``, ``F16``)."""
    stem = filename.rsplit("/", 1)[-1]
    stem = _SPLIT.sub(lambda m: m["stem"], stem)
    found = _QUANT_TOKEN.findall(stem.removesuffix(".gguf").removesuffix(".GGUF"))
    return found[-1].upper() if found else None


def split_parts(filename: str, files: Mapping[str, RemoteFile]) -> tuple[RemoteFile, ...]:
    """Every part of the split GGUF ``filename`` belongs to, in order (or just the file)."""
    folder, _, base = filename.rpartition("/")
    m = _SPLIT.match(base)
    if m is None:
        return (files[filename],)
    count = int(m["count"])
    prefix = f"{folder}/" if folder else ""
    parts: list[RemoteFile] = []
    for i in range(1, count + 1):
        name = f"{prefix}{m['stem']}-{i:05d}-of-{m['count']}.gguf"
        found = files.get(name)
        if found is None:
            raise QuantizationNotFoundError(
                f"split GGUF {filename!r} has {count} parts but {name!r} is not in the repo",
                tuple(sorted(files)),
            )
        parts.append(found)
    return tuple(parts)


def _is_candidate(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    if base.lower().startswith("mmproj"):
        return False
    m = _SPLIT.match(base)
    return m is None or int(m["index"]) == 1


def select_gguf(want: Wanted, listing: Sequence[RemoteFile]) -> Resolution:
    """Pick the GGUF (and its parts) ``want`` names from the repo's file list."""
    files = {f.filename: f for f in listing}
    ggufs = sorted(name for name in files if name.lower().endswith(".gguf"))
    if want.filename is not None:
        if want.filename not in files:
            raise QuantizationNotFoundError(
                f"{want.name!r}: {want.repo} has no file {want.filename!r} at {want.revision!r}; "
                f"its GGUF files: {', '.join(ggufs) or 'none'}",
                tuple(ggufs),
            )
        first = want.filename
    else:
        # A split GGUF counts once, by its first part; vision projectors are never the model.
        candidates = [name for name in ggufs if _is_candidate(name)]
        matching = [
            n for n in candidates if filename_matches_quant(n.rsplit("/", 1)[-1], want.quantization)
        ]
        if not matching:
            quants = sorted({q for n in candidates if (q := quantization_of(n)) is not None})
            listed = quants or ggufs
            raise QuantizationNotFoundError(
                f"{want.name!r}: {want.repo} has no GGUF for quantization {want.quantization}; "
                f"available: {', '.join(listed) or 'no GGUF files at all'}",
                tuple(listed),
            )
        if len(matching) > 1:
            raise AmbiguousQuantizationError(
                f"{want.name!r}: {len(matching)} GGUF files in {want.repo} match "
                f"{want.quantization}: {', '.join(matching)}; pin one with 'filename' in "
                "your manifest.toml",
                tuple(matching),
            )
        first = matching[0]
    parts = split_parts(first, files)
    head = parts[0]
    if want.sha256 is not None and head.sha256 is not None and head.sha256 != want.sha256:
        raise IntegrityError(
            f"{want.name!r}: the manifest pins {first} to sha256 {want.sha256} "
            f"but {want.repo}@{want.revision} lists {head.sha256}"
        )
    sha = head.sha256 or want.sha256
    size = head.size if head.size is not None else want.size
    return Resolution(spec=want.spec(first, sha, size), files=parts)


def _list_sync(
    stop: threading.Event,
    endpoint: str,
    token: str | None,
    repo: str,
    revision: str,
    offline: bool,
) -> list[RemoteFile]:
    if offline:
        raise OfflineError(f"listing {repo} needs the network, and the hub is offline")
    from huggingface_hub import HfApi
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )
    from huggingface_hub.errors import RevisionNotFoundError as HfRevisionNotFoundError

    quiet_hub_retries()
    api = HfApi(endpoint=endpoint, token=token or False, library_name="facecrab")
    out: list[RemoteFile] = []
    try:
        for item in api.list_repo_tree(repo, recursive=True, revision=revision):
            if stop.is_set():
                raise Stopped
            size = getattr(item, "size", None)
            if size is None:  # a folder
                continue
            lfs = getattr(item, "lfs", None)
            out.append(
                RemoteFile(
                    filename=item.path,
                    size=lfs.size if lfs is not None else size,
                    sha256=lfs.sha256 if lfs is not None else None,
                )
            )
    except GatedRepoError as exc:
        raise DownloadError(
            f"{repo} is gated at {endpoint}: accept its terms and set HF_TOKEN"
        ) from exc
    except HfRevisionNotFoundError as exc:
        raise RevisionNotFoundError(f"{repo} has no revision {revision!r} at {endpoint}") from exc
    except RepositoryNotFoundError as exc:
        raise RepoNotFoundError(f"{repo} not found at {endpoint}") from exc
    except OfflineModeIsEnabled as exc:
        raise OfflineError(f"listing {repo}: huggingface_hub is in offline mode") from exc
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        raise DownloadError(f"listing {repo} at {endpoint} failed with HTTP {status}") from exc
    except (Stopped, OfflineError):
        raise
    except Exception as exc:  # transport errors of huggingface_hub's HTTP client
        raise DownloadError(
            f"cannot list {repo} at {endpoint}: {type(exc).__name__}: {exc}"
        ) from exc
    return out


async def list_repo_files(
    *, endpoint: str, token: str | None, repo: str, revision: str, offline: bool = False
) -> list[RemoteFile]:
    """The repo's files at ``revision`` (recursively), through huggingface_hub in a thread.

    The hub is probed first (:func:`~facecrab._reach.probe_hub`): an unreachable hub is
    reported at once instead of after huggingface_hub's retries.
    """
    if not offline:
        await probe_hub(endpoint)
    return await run_stoppable(
        lambda stop: _list_sync(stop, endpoint, token, repo, revision, offline)
    )


def repo_not_found(
    want: Wanted, exc: RepoNotFoundError, manifest: UserManifest
) -> RepoNotFoundError:
    """Re-raise a 404 with the reference and the known models (closest first)."""
    known = _known_models(manifest)
    repos = [e.repo for e in manifest.models.values() if e.repo]
    close = _close_matches(want.repo, repos, 0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return RepoNotFoundError(
        f"model {want.name!r}: {exc.message}.{hint} Known models: {', '.join(known)}",
        tuple(close) + tuple(k for k in known if k not in close),
    )


def pinned(want: Wanted) -> Resolution:
    """The one file the manifest pins, without asking the hub to list the repo."""
    assert want.filename is not None
    head = RemoteFile(filename=want.filename, size=want.size, sha256=want.sha256)
    return Resolution(spec=want.spec(want.filename, want.sha256, want.size), files=(head,))


def registry_hits(want: Wanted, entries: Iterable[RegistryEntry]) -> list[RegistryEntry]:
    return [e for e in entries if want.matches(e)]


def _close_matches(word: str, choices: list[str], cutoff: float) -> list[str]:
    """Up to three of ``choices`` like ``word``: difflib, imported only for a failed lookup
    (it is off every cold start that finds its model)."""
    import difflib

    return difflib.get_close_matches(word, choices, n=3, cutoff=cutoff)
