"""A loopback Hugging Face hub: real HTTP/1.1 on 127.0.0.1, with fault injection.

It speaks the paths huggingface_hub and facecrab use, in Hugging Face's shapes:

- ``GET /api/models/{org}/{repo}/tree/{revision}[/{path}]`` lists files with their LFS
  metadata (``?recursive=true`` walks folders);
- ``GET /api/models/{org}/{repo}`` and ``.../revision/{revision}`` answer ``model_info``;
- ``HEAD|GET /{org}/{repo}/resolve/{revision}/{path}`` serves a file with ``X-Repo-Commit``,
  ``X-Linked-Etag``, ``X-Linked-Size``, ``ETag`` and ``Range`` support. LFS files first
  redirect (302) to ``/cdn/{org}/{repo}/{commit}/{path}``, as the real hub sends them to
  its CDN, so the client's redirect handling is exercised too.

Written on anyio sockets with a small hand-written HTTP/1.1 parser instead of a web
framework, so a fault lands on an exact byte (cut the connection after N body bytes,
stall, flip bytes, answer a status, ignore ``Range``) and the same server runs on
asyncio and trio. Every request is recorded (:class:`RequestRecord`) for assertions.
Files on disk are streamed in chunks, never read whole.

Use ``async with open_hub() as hub`` inside a test's event loop, or
``with run_hub_in_thread() as hub`` when the calling thread blocks (subprocesses,
benchmarks). The fault and statistics methods are thread-safe.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import struct
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Final, Literal
from urllib.parse import parse_qs, unquote

import anyio
import anyio.abc
import anyio.from_thread
import anyio.to_thread
import attrs
from anyio.streams.buffered import BufferedByteReceiveStream

__all__ = [
    "HubFile",
    "HubRepo",
    "LoopbackHub",
    "RequestKind",
    "RequestRecord",
    "StallHandle",
    "open_hub",
    "run_hub_in_thread",
]

RequestKind = Literal["tree", "model_info", "resolve", "cdn", "other"]

_CHUNK: Final = 256 * 1024
_MAX_HEAD: Final = 64 * 1024
# Files a real hub keeps in plain git; everything else (GGUF, weights) is LFS.
_TEXT_SUFFIXES: Final = (".md", ".json", ".txt", ".gitattributes", ".yaml", ".yml", ".jinja")
_FLIP: Final = bytes(b ^ 0x5A for b in range(256))
_REASONS: Final = {
    200: "OK",
    206: "Partial Content",
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    416: "Range Not Satisfiable",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}

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


def _git_blob_oid(content: bytes) -> str:
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
            oid, pointer_size = _git_blob_oid(pointer.encode()), len(pointer)
        else:
            content = source if isinstance(source, bytes) else source.read_bytes()
            oid, pointer_size = _git_blob_oid(content), 0
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


@attrs.define(kw_only=True)
class RequestRecord:
    """One request the hub received; ``body_bytes`` grows while the body is sent."""

    method: str
    target: str
    path: str
    kind: RequestKind
    headers: dict[str, str]
    repo: str | None = None
    file: str | None = None
    status: int | None = None
    body_bytes: int = 0
    completed: bool = False
    """The whole response went out (false when a fault cut it or the client left)."""

    @property
    def range(self) -> str | None:
        return self.headers.get("range")

    def matches_file(self, key: str) -> bool:
        return self.file is not None and key in (self.file, f"{self.repo}/{self.file}")


class StallHandle:
    """A stall fault: the hub stops sending after ``after_bytes`` body bytes until released.

    ``release`` may be an :class:`anyio.Event` of the hub's own event loop; otherwise call
    :meth:`release` (from any thread). Unreleased stalls end when the hub shuts down.
    """

    def __init__(self, after_bytes: int, release: anyio.Event | None) -> None:
        self.after_bytes = after_bytes
        self._release_event = release
        self._reached = threading.Event()
        self._released = threading.Event()

    @property
    def reached(self) -> bool:
        return self._reached.is_set()

    def release(self) -> None:
        self._released.set()

    async def wait_reached(self) -> None:
        """Wait (from any event loop) until a response stalled here."""
        await anyio.to_thread.run_sync(self._reached.wait, abandon_on_cancel=True)

    def wait_reached_blocking(self, timeout: float | None = None) -> bool:
        return self._reached.wait(timeout)

    async def _hold(self) -> None:
        self._reached.set()
        if self._release_event is not None:
            await self._release_event.wait()
        else:
            await anyio.to_thread.run_sync(self._released.wait, abandon_on_cancel=True)


@attrs.define(kw_only=True)
class _Fault:
    kind: Literal["cut", "stall", "corrupt", "status", "ignore_range"]
    key: str
    times: int | None
    nbytes: int = 0
    code: int = 0
    abrupt: bool = False
    stall: StallHandle | None = None
    after: int = 0


class _Request:
    def __init__(self, method: str, target: str, version: str, headers: dict[str, str]) -> None:
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        path, _, query = target.partition("?")
        self.path = path
        self.query = parse_qs(query)

    @property
    def keep_alive(self) -> bool:
        conn = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return conn == "keep-alive"
        return conn != "close"


class _Close(Exception):
    """End the connection without another response (a fault cut it, or the client left)."""


def _parse_range(header: str | None, size: int) -> tuple[int, int] | Literal["bad"] | None:
    """``(start, end_inclusive)``, ``None`` to serve the whole file, or ``"bad"`` for 416."""
    if header is None:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None  # a server may ignore what it does not support
    first, sep, last = spec.strip().partition("-")
    if not sep:
        return None
    try:
        if not first:  # suffix: the last N bytes
            n = int(last)
            if n <= 0 or size == 0:
                return "bad"
            return max(0, size - n), size - 1
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size or start < 0:
        return "bad"
    if end < start:
        return None
    return start, min(end, size - 1)


class LoopbackHub:
    """The hub's state: repos, faults and the request log. Built by :func:`open_hub`."""

    def __init__(self, *, redirect_lfs: bool = True, chunk_size: int = _CHUNK) -> None:
        self.redirect_lfs = redirect_lfs
        self.chunk_size = chunk_size
        self.host = "127.0.0.1"
        self.port = 0
        self._repos: dict[str, dict[str, HubRepo]] = {}
        self._faults: list[_Fault] = []
        self._stalls: list[StallHandle] = []
        self._records: list[RequestRecord] = []
        self._cond = threading.Condition(threading.RLock())
        self.errors: list[BaseException] = []

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- repos -------------------------------------------------------------------------------

    def add_repo(
        self,
        repo_id: str,
        files: Mapping[str, Path | bytes],
        *,
        revision: str = "main",
        commit: str | None = None,
    ) -> HubRepo:
        """Serve ``files`` (in-repo path -> file on disk or bytes) as ``repo_id`` at ``revision``.

        Registering the same repo again with another revision adds that revision; with the
        same revision it replaces it. ``commit`` defaults to a stable 40-hex id.
        """
        if repo_id.count("/") != 1:
            raise ValueError(f"repo id {repo_id!r} must look like 'org/name'")
        built = {path: HubFile.build(path, source) for path, source in files.items()}
        if commit is None:
            seed = repo_id + "@" + revision + "".join(sorted(f.oid for f in built.values()))
            commit = hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()
        if len(commit) != 40 or any(c not in "0123456789abcdef" for c in commit):
            raise ValueError(f"commit {commit!r} must be 40 lowercase hex digits")
        repo = HubRepo(repo_id=repo_id, revision=revision, commit=commit, files=built)
        with self._cond:
            self._repos.setdefault(repo_id.lower(), {})[revision] = repo
        return repo

    def _find(self, repo_id: str, revision: str | None) -> tuple[HubRepo | None, bool]:
        """``(repo, known)``: the revision's repo, and whether the repo exists at all."""
        with self._cond:
            revisions = self._repos.get(repo_id.lower())
        if not revisions:
            return None, False
        if revision is None:
            revision = "main" if "main" in revisions else next(iter(revisions))
        found = revisions.get(revision)
        if found is None:
            found = next((r for r in revisions.values() if r.commit == revision), None)
        return found, True

    # -- faults ------------------------------------------------------------------------------
    # Each fault matches a file (its in-repo path or ``org/repo/path``); ``after=N`` lets the
    # first N matching requests through, then it fires ``times`` times (``None``: forever).

    def cut_after(
        self,
        path: str,
        nbytes: int,
        *,
        times: int | None = 1,
        after: int = 0,
        abrupt: bool = False,
    ) -> None:
        """Send the headers and ``nbytes`` of the body, then close the connection.

        ``path`` is the file's in-repo path or ``org/repo/path``. ``abrupt`` resets the
        connection (RST) instead of closing it cleanly.
        """
        self._add(
            _Fault(kind="cut", key=path, times=times, after=after, nbytes=nbytes, abrupt=abrupt)
        )

    def stall(
        self,
        path: str,
        after_bytes: int,
        release: anyio.Event | None = None,
        *,
        times: int | None = 1,
        after: int = 0,
    ) -> StallHandle:
        """Stop sending after ``after_bytes`` body bytes until the stall is released."""
        handle = StallHandle(after_bytes, release)
        with self._cond:
            self._stalls.append(handle)
        self._add(
            _Fault(
                kind="stall", key=path, times=times, after=after, nbytes=after_bytes, stall=handle
            )
        )
        return handle

    def corrupt(self, path: str, *, times: int | None = None, after: int = 0) -> None:
        """Serve wrong bytes of the right length."""
        self._add(_Fault(kind="corrupt", key=path, times=times, after=after))

    def status(self, target: str, code: int, *, times: int | None = 1, after: int = 0) -> None:
        """Answer ``code`` instead, for a file (``path``/``org/repo/path``) or a whole repo.

        A file's fault answers its ``resolve`` request (a 416 with ``Content-Range:
        bytes */SIZE``); a repo's fault also answers the tree and model_info requests.
        """
        if code not in _REASONS or code < 400:
            raise ValueError(f"status fault {code} is not an error status this hub knows")
        self._add(_Fault(kind="status", key=target, times=times, after=after, code=code))

    def ignore_range(self, path: str, *, times: int | None = None, after: int = 0) -> None:
        """Answer ``Range`` requests with 200 and the whole file, as some servers do."""
        self._add(_Fault(kind="ignore_range", key=path, times=times, after=after))

    def clear_faults(self) -> None:
        with self._cond:
            self._faults.clear()
            for stall in self._stalls:
                stall.release()

    def _add(self, fault: _Fault) -> None:
        if fault.times is not None and fault.times < 1:
            raise ValueError(f"times must be positive or None, got {fault.times}")
        if fault.after < 0:
            raise ValueError(f"after must not be negative, got {fault.after}")
        with self._cond:
            self._faults.append(fault)

    def _take(self, kind: str, keys: tuple[str, ...]) -> _Fault | None:
        with self._cond:
            for fault in self._faults:
                if fault.kind == kind and fault.key in keys:
                    if fault.after > 0:  # let this request through untouched
                        fault.after -= 1
                        continue
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times == 0:
                            self._faults.remove(fault)
                    return fault
        return None

    # -- statistics --------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of every request so far, in arrival order."""
        with self._cond:
            return [attrs.evolve(r, headers=dict(r.headers)) for r in self._records]

    def request_count(
        self, method: str | None = None, *, kind: RequestKind | None = None, file: str | None = None
    ) -> int:
        with self._cond:
            return sum(
                1
                for r in self._records
                if (method is None or r.method == method)
                and (kind is None or r.kind == kind)
                and (file is None or r.matches_file(file))
            )

    def bytes_served(self, file: str | None = None) -> int:
        """Body bytes sent, for one file (in-repo path or ``org/repo/path``) or in all."""
        with self._cond:
            return sum(r.body_bytes for r in self._records if file is None or r.matches_file(file))

    def body_requests(self, file: str) -> list[RequestRecord]:
        """GETs that were answered with the file's bytes (200 or 206)."""
        return [
            r
            for r in self.requests
            if r.method == "GET" and r.status in (200, 206) and r.matches_file(file)
        ]

    def ranges_seen(self, file: str) -> list[str | None]:
        """The ``Range`` header of every GET that reached the file's bytes (or was refused)."""
        return [
            r.range
            for r in self.requests
            if r.method == "GET"
            and r.matches_file(file)
            and r.kind in ("resolve", "cdn")
            and r.status != 302
        ]

    def reset_stats(self) -> None:
        with self._cond:
            self._records.clear()

    async def wait_for(self, predicate: Callable[[LoopbackHub], bool]) -> None:
        """Wait (from any event loop) until ``predicate(hub)`` holds; checked on every request."""
        await anyio.to_thread.run_sync(
            self.wait_for_blocking, predicate, None, abandon_on_cancel=True
        )

    def wait_for_blocking(
        self, predicate: Callable[[LoopbackHub], bool], timeout: float | None = None
    ) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout)

    def _record(self, record: RequestRecord) -> None:
        with self._cond:
            self._records.append(record)
            self._cond.notify_all()

    def _update(self, record: RequestRecord, **changes: object) -> None:
        with self._cond:
            for name, value in changes.items():
                setattr(record, name, value)
            self._cond.notify_all()

    def _count_body(self, record: RequestRecord, n: int) -> None:
        with self._cond:
            record.body_bytes += n

    def _shutdown(self) -> None:
        with self._cond:
            for stall in self._stalls:
                stall.release()
            self._cond.notify_all()

    # -- serving -----------------------------------------------------------------------------

    async def _handle(self, stream: anyio.abc.SocketStream) -> None:
        reader = BufferedByteReceiveStream(stream)
        try:
            async with stream:
                while True:
                    try:
                        head = await reader.receive_until(b"\r\n\r\n", _MAX_HEAD)
                    except (anyio.IncompleteRead, anyio.EndOfStream):
                        return
                    except anyio.DelimiterNotFound:
                        await self._send_simple(
                            stream, 431, {"error": "headers too large"}, close=True
                        )
                        return
                    request = self._parse(head)
                    if request is None:
                        await self._send_simple(stream, 400, {"error": "bad request"}, close=True)
                        return
                    if length := int(request.headers.get("content-length", "0") or 0):
                        await reader.receive_exactly(length)
                    try:
                        await self._dispatch(stream, request)
                    except _Close:
                        return
                    if not request.keep_alive:
                        return
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, ConnectionError):
            return
        except Exception as exc:  # a bug in the hub: surface it when the hub closes
            self.errors.append(exc)

    @staticmethod
    def _parse(head: bytes) -> _Request | None:
        try:
            lines = head.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ")
        except ValueError:
            return None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                return None
            headers[name.strip().lower()] = value.strip()
        return _Request(method.upper(), target, version, headers)

    async def _dispatch(self, stream: anyio.abc.SocketStream, req: _Request) -> None:
        segs = req.path.split("/")[1:]
        if req.method not in ("GET", "HEAD"):
            record = self._new_record(req, "other")
            self._record(record)
            await self._send_error(stream, req, record, 405)
            return
        if len(segs) >= 4 and segs[0] == "api" and segs[1] == "models":
            repo_id = f"{unquote(segs[2])}/{unquote(segs[3])}"
            rest = [unquote(s) for s in segs[4:]]
            if not rest or (rest[0] == "revision" and len(rest) == 2):
                await self._model_info(stream, req, repo_id, rest[1] if rest else None)
                return
            if rest[0] == "tree" and len(rest) >= 2:
                await self._tree(stream, req, repo_id, rest[1], "/".join(rest[2:]))
                return
        elif len(segs) >= 5 and segs[0] == "cdn":
            repo_id = f"{unquote(segs[1])}/{unquote(segs[2])}"
            path = "/".join(unquote(s) for s in segs[4:])
            await self._file(stream, req, "cdn", repo_id, unquote(segs[3]), path)
            return
        elif len(segs) >= 5 and segs[2] == "resolve":
            repo_id = f"{unquote(segs[0])}/{unquote(segs[1])}"
            path = "/".join(unquote(s) for s in segs[4:])
            await self._file(stream, req, "resolve", repo_id, unquote(segs[3]), path)
            return
        record = self._new_record(req, "other")
        self._record(record)
        await self._send_error(stream, req, record, 404)

    @staticmethod
    def _new_record(
        req: _Request, kind: RequestKind, repo: str | None = None, file: str | None = None
    ) -> RequestRecord:
        return RequestRecord(
            method=req.method,
            target=req.target,
            path=req.path,
            kind=kind,
            headers=dict(req.headers),
            repo=repo,
            file=file,
        )

    async def _repo_or_error(
        self,
        stream: anyio.abc.SocketStream,
        req: _Request,
        record: RequestRecord,
        repo_id: str,
        revision: str | None,
        keys: tuple[str, ...],
    ) -> HubRepo | None:
        """The repo revision, or ``None`` after answering the error (fault or 404)."""
        fault = self._take("status", keys)
        if fault is not None:
            error_code = "RepoNotFound" if fault.code == 404 else None
            await self._send_error(stream, req, record, fault.code, error_code)
            return None
        repo, known = self._find(repo_id, revision)
        if repo is None:
            code = "RevisionNotFound" if known else "RepoNotFound"
            message = f"Invalid rev id: {revision}" if known else "Repository not found"
            await self._send_error(stream, req, record, 404, code, message)
        return repo

    async def _model_info(
        self, stream: anyio.abc.SocketStream, req: _Request, repo_id: str, revision: str | None
    ) -> None:
        record = self._new_record(req, "model_info", repo_id)
        self._record(record)
        repo = await self._repo_or_error(stream, req, record, repo_id, revision, (repo_id,))
        if repo is None:
            return
        blobs = req.query.get("blobs", ["false"])[0].lower() in ("1", "true")
        siblings = [f.sibling() if blobs else {"rfilename": f.path} for f in repo.files.values()]
        body = {
            "_id": repo.commit[:24],
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": repo.commit,
            "private": False,
            "disabled": False,
            "gated": False,
            "downloads": 0,
            "likes": 0,
            "tags": ["gguf"],
            "library_name": "gguf",
            "lastModified": "2024-01-01T00:00:00.000Z",
            "createdAt": "2024-01-01T00:00:00.000Z",
            "siblings": siblings,
        }
        await self._send_json(stream, req, record, 200, body)

    async def _tree(
        self,
        stream: anyio.abc.SocketStream,
        req: _Request,
        repo_id: str,
        revision: str,
        subpath: str,
    ) -> None:
        record = self._new_record(req, "tree", repo_id)
        self._record(record)
        repo = await self._repo_or_error(stream, req, record, repo_id, revision, (repo_id,))
        if repo is None:
            return
        recursive = req.query.get("recursive", ["false"])[0].lower() in ("1", "true")
        prefix = f"{subpath.strip('/')}/" if subpath.strip("/") else ""
        entries: list[dict[str, object]] = []
        folders: set[str] = set()
        for f in repo.files.values():
            if not f.path.startswith(prefix):
                continue
            rest = f.path[len(prefix) :]
            parts = rest.split("/")
            for depth in range(1, len(parts)):
                if depth > 1 and not recursive:
                    break
                folders.add(prefix + "/".join(parts[:depth]))
            if recursive or len(parts) == 1:
                entries.append(f.tree_entry())
        if prefix and not entries and not folders:
            await self._send_error(stream, req, record, 404, "EntryNotFound", "Entry not found")
            return
        dirs = [
            {"type": "directory", "oid": _git_blob_oid(d.encode()), "size": 0, "path": d}
            for d in sorted(folders)
        ]
        await self._send_json(stream, req, record, 200, dirs + entries)

    async def _file(
        self,
        stream: anyio.abc.SocketStream,
        req: _Request,
        kind: Literal["resolve", "cdn"],
        repo_id: str,
        revision: str,
        path: str,
    ) -> None:
        record = self._new_record(req, kind, repo_id, path)
        self._record(record)
        file_keys = (path, f"{repo_id}/{path}")
        repo, known = self._find(repo_id, revision)
        file = repo.files.get(path) if repo is not None else None
        # Status faults hit the resolve step (one countdown per download attempt); the CDN
        # URL it redirects to is taken as signed and always answers.
        fault = self._take("status", (*file_keys, repo_id)) if kind == "resolve" else None
        if fault is not None:
            extra = {"Content-Range": f"bytes */{file.size}"} if file and fault.code == 416 else {}
            error_code = None
            if fault.code == 404:
                error_code = "RepoNotFound" if fault.key == repo_id else "EntryNotFound"
            await self._send_error(stream, req, record, fault.code, error_code, None, extra)
            return
        if repo is None:
            code = "RevisionNotFound" if known else "RepoNotFound"
            message = f"Invalid rev id: {revision}" if known else "Repository not found"
            await self._send_error(stream, req, record, 404, code, message)
            return
        if file is None:
            await self._send_error(stream, req, record, 404, "EntryNotFound", "Entry not found")
            return
        common = {
            "X-Repo-Commit": repo.commit,
            "X-Linked-Etag": file.etag,
            "X-Linked-Size": str(file.size),
            "ETag": file.etag,
            "Accept-Ranges": "bytes",
        }
        if kind == "resolve" and file.lfs and self.redirect_lfs:
            location = f"{self.url}/cdn/{repo.repo_id}/{repo.commit}/{file.path}"
            await self._send_head(
                stream, req, record, 302, {**common, "Location": location, "Content-Length": "0"}
            )
            self._update(record, completed=True)
            return
        ignore = self._take("ignore_range", file_keys) is not None
        span = None if ignore else _parse_range(req.headers.get("range"), file.size)
        if span == "bad":
            headers = {**common, "Content-Range": f"bytes */{file.size}"}
            await self._send_error(stream, req, record, 416, None, "Range Not Satisfiable", headers)
            return
        start, end = span if span is not None else (0, file.size - 1)
        headers = {**common, "Content-Type": "application/octet-stream"}
        headers["Content-Length"] = str(end - start + 1)
        if span is not None:
            headers["Content-Range"] = f"bytes {start}-{end}/{file.size}"
        status = 206 if span is not None else 200
        await self._send_head(stream, req, record, status, headers)
        if req.method == "HEAD":
            self._update(record, completed=True)
            return
        await self._send_body(stream, record, file, start, end + 1, file_keys)
        self._update(record, completed=True)

    async def _send_body(
        self,
        stream: anyio.abc.SocketStream,
        record: RequestRecord,
        file: HubFile,
        start: int,
        stop: int,
        keys: tuple[str, ...],
    ) -> None:
        cut = self._take("cut", keys)
        stall = self._take("stall", keys)
        corrupt = self._take("corrupt", keys) is not None
        sent = 0

        async def sink(view: bytes) -> None:
            nonlocal sent, stall
            while view:
                limit = len(view)
                if stall is not None and stall.nbytes >= sent:
                    limit = min(limit, stall.nbytes - sent)
                if cut is not None:
                    limit = min(limit, cut.nbytes - sent)
                if limit > 0:
                    piece = view[:limit]
                    await stream.send(piece.translate(_FLIP) if corrupt else piece)
                    sent += limit
                    self._count_body(record, limit)
                    view = view[limit:]
                if stall is not None and sent >= stall.nbytes:
                    assert stall.stall is not None
                    held, stall = stall.stall, None
                    await held._hold()
                if cut is not None and sent >= cut.nbytes:
                    await self._cut(stream, abrupt=cut.abrupt)

        await self._chunks(file, start, stop, sink)

    async def _chunks(
        self, file: HubFile, start: int, stop: int, sink: Callable[[bytes], Awaitable[None]]
    ) -> None:
        """Feed ``[start, stop)`` of the file to ``sink`` in chunks, reading as it goes."""
        if isinstance(file.source, bytes):
            for pos in range(start, stop, self.chunk_size):
                await sink(file.source[pos : min(stop, pos + self.chunk_size)])
            return
        async with await anyio.open_file(file.source, "rb") as f:
            await f.seek(start)
            pos = start
            while pos < stop:
                data = await f.read(min(self.chunk_size, stop - pos))
                if not data:
                    raise RuntimeError(f"{file.source} is shorter than {file.size} bytes")
                pos += len(data)
                await sink(data)

    @staticmethod
    async def _cut(stream: anyio.abc.SocketStream, *, abrupt: bool) -> None:
        if abrupt:
            raw = stream.extra(anyio.abc.SocketAttribute.raw_socket)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await stream.aclose()
        raise _Close

    async def _send_head(
        self,
        stream: anyio.abc.SocketStream,
        req: _Request,
        record: RequestRecord,
        status: int,
        headers: Mapping[str, str],
    ) -> None:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines.append(f"Connection: {'keep-alive' if req.keep_alive else 'close'}")
        self._update(record, status=status)
        await stream.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    async def _send_json(
        self,
        stream: anyio.abc.SocketStream,
        req: _Request,
        record: RequestRecord,
        status: int,
        body: object,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", **(extra or {})}
        headers["Content-Length"] = str(len(data))
        await self._send_head(stream, req, record, status, headers)
        if req.method != "HEAD":
            await stream.send(data)
        self._update(record, completed=True)

    async def _send_error(
        self,
        stream: anyio.abc.SocketStream,
        req: _Request,
        record: RequestRecord,
        status: int,
        error_code: str | None = None,
        message: str | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        message = message or _REASONS.get(status, "error")
        headers = dict(extra or {})
        if error_code is not None:
            headers["X-Error-Code"] = error_code
            headers["X-Error-Message"] = message
        await self._send_json(stream, req, record, status, {"error": message}, headers)

    @staticmethod
    async def _send_simple(
        stream: anyio.abc.SocketStream, status: int, body: object, *, close: bool
    ) -> None:
        data = json.dumps(body).encode()
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
            f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
        )
        await stream.send(head.encode("latin-1") + data)


@contextlib.asynccontextmanager
async def open_hub(
    *, redirect_lfs: bool = True, chunk_size: int = _CHUNK
) -> AsyncIterator[LoopbackHub]:
    """Serve a :class:`LoopbackHub` on an ephemeral 127.0.0.1 port in the caller's event loop."""
    hub = LoopbackHub(redirect_lfs=redirect_lfs, chunk_size=chunk_size)
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    async with listener, anyio.create_task_group() as tg:
        hub.port = listener.extra(anyio.abc.SocketAttribute.local_port)
        tg.start_soon(listener.serve, hub._handle)
        try:
            yield hub
        finally:
            hub._shutdown()
            tg.cancel_scope.cancel()
    if hub.errors:
        raise RuntimeError("the loopback hub failed while serving") from hub.errors[0]


@contextlib.contextmanager
def run_hub_in_thread(
    *, redirect_lfs: bool = True, chunk_size: int = _CHUNK, backend: str = "asyncio"
) -> Iterator[LoopbackHub]:
    """Serve a :class:`LoopbackHub` from its own thread and event loop.

    For callers whose thread blocks: subprocess tests, benchmarks, synchronous clients.
    """
    with (
        anyio.from_thread.start_blocking_portal(backend) as portal,
        portal.wrap_async_context_manager(
            open_hub(redirect_lfs=redirect_lfs, chunk_size=chunk_size)
        ) as hub,
    ):
        yield hub
