"""What the hub serves: repos, their revisions and files, in Hugging Face's terms."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import attrs

__all__ = ["Catalog", "HubFile", "HubRepo", "git_blob_oid"]

# Files a real hub keeps in plain git; everything else (GGUF, weights) is LFS.
_TEXT_SUFFIXES: Final = (".md", ".json", ".txt", ".gitattributes", ".yaml", ".yml", ".jinja")

_digest_lock = threading.Lock()
_digest_cache: dict[tuple[str, int, int], str] = {}


def _file_sha256(path: Path) -> str:
    """sha256 of a file on disk, cached per (path, size, mtime) for the whole process."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _digest_lock:
        found = _digest_cache.get(key)
    if found is not None:
        return found
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    value = digest.hexdigest()
    with _digest_lock:
        _digest_cache[key] = value
    return value


def git_blob_oid(content: bytes) -> str:
    """The id git gives a blob of ``content``."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


@attrs.frozen(kw_only=True)
class HubFile:
    """One file of a repo revision, as the hub describes and serves it."""

    path: str
    size: int
    sha256: str
    oid: str
    """The git blob id: of the LFS pointer for LFS files, of the content otherwise."""
    lfs: bool
    pointer_size: int
    source: Path | bytes = attrs.field(repr=False)

    @classmethod
    def build(cls, path: str, source: Path | bytes) -> HubFile:
        if isinstance(source, bytes):
            size, sha = len(source), hashlib.sha256(source).hexdigest()
        else:
            size, sha = source.stat().st_size, _file_sha256(source)
        lfs = not path.lower().endswith(_TEXT_SUFFIXES)
        if lfs:
            pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\nsize {size}\n"
            oid, pointer_size = git_blob_oid(pointer.encode()), len(pointer)
        else:
            content = source if isinstance(source, bytes) else source.read_bytes()
            oid, pointer_size = git_blob_oid(content), 0
        return cls(
            path=path,
            size=size,
            sha256=sha,
            oid=oid,
            lfs=lfs,
            pointer_size=pointer_size,
            source=source,
        )

    @property
    def etag(self) -> str:
        return f'"{self.sha256 if self.lfs else self.oid}"'

    def tree_entry(self) -> dict[str, object]:
        entry: dict[str, object] = {
            "type": "file",
            "oid": self.oid,
            "size": self.size,
            "path": self.path,
        }
        if self.lfs:
            entry["lfs"] = {"oid": self.sha256, "size": self.size, "pointerSize": self.pointer_size}
        return entry

    def sibling(self) -> dict[str, object]:
        entry: dict[str, object] = {"rfilename": self.path, "size": self.size, "blobId": self.oid}
        if self.lfs:
            entry["lfs"] = {
                "sha256": self.sha256,
                "size": self.size,
                "pointerSize": self.pointer_size,
            }
        return entry


@attrs.frozen(kw_only=True)
class HubRepo:
    """A repo revision registered with :meth:`LoopbackHub.add_repo`."""

    repo_id: str
    revision: str
    commit: str
    files: Mapping[str, HubFile]

    def file(self, path: str) -> HubFile:
        return self.files[path]


class Catalog:
    """Every repo revision the hub serves; thread-safe."""

    def __init__(self) -> None:
        self._repos: dict[str, dict[str, HubRepo]] = {}
        self._lock = threading.Lock()

    def add(
        self,
        repo_id: str,
        files: Mapping[str, Path | bytes],
        *,
        revision: str,
        commit: str | None,
    ) -> HubRepo:
        """Add (or replace) one revision of ``repo_id``; see :meth:`LoopbackHub.add_repo`."""
        if repo_id.count("/") != 1:
            raise ValueError(f"repo id {repo_id!r} must look like 'org/name'")
        built = {path: HubFile.build(path, source) for path, source in files.items()}
        if commit is None:
            seed = repo_id + "@" + revision + "".join(sorted(f.oid for f in built.values()))
            commit = hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()
        if len(commit) != 40 or any(c not in "0123456789abcdef" for c in commit):
            raise ValueError(f"commit {commit!r} must be 40 lowercase hex digits")
        repo = HubRepo(repo_id=repo_id, revision=revision, commit=commit, files=built)
        with self._lock:
            self._repos.setdefault(repo_id.lower(), {})[revision] = repo
        return repo

    def find(self, repo_id: str, revision: str | None) -> tuple[HubRepo | None, bool]:
        """``(repo, known)``: the revision (a name or a commit), and whether the repo exists.

        ``revision=None`` means ``main``, or the first revision added when there is none.
        """
        with self._lock:
            revisions = dict(self._repos.get(repo_id.lower(), {}))
        if not revisions:
            return None, False
        if revision is None:
            revision = "main" if "main" in revisions else next(iter(revisions))
        found = revisions.get(revision)
        if found is None:
            found = next((r for r in revisions.values() if r.commit == revision), None)
        return found, True
