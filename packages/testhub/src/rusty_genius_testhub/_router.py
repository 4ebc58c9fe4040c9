"""The hub's routes: Hugging Face's paths, answered from the catalog, with faults applied.

- ``GET /api/models/{org}/{repo}/tree/{revision}[/{path}]`` lists files with their LFS
  metadata (``?recursive=true`` walks folders);
- ``GET /api/models/{org}/{repo}`` and ``.../revision/{revision}`` answer ``model_info``;
- ``HEAD|GET /{org}/{repo}/resolve/{revision}/{path}`` serves a file; LFS files first
  redirect (302) to ``/cdn/{org}/{repo}/{commit}/{path}`` (a ``redirect_loop`` fault
  redirects ``resolve`` to itself instead);
- anything else is 404, any method but GET and HEAD 405.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Final, Literal
from urllib.parse import unquote

import anyio

from ._catalog import git_blob_oid
from ._log import RequestKind, RequestRecord
from ._wire import REASONS

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from ._catalog import Catalog, HubFile, HubRepo
    from ._faults import FaultRegistry
    from ._hub import LoopbackHub
    from ._log import RequestLog
    from ._wire import HttpConnection, Request

__all__ = ["Router", "parse_range"]

_FLIP: Final = bytes(b ^ 0x5A for b in range(256))


def parse_range(header: str | None, size: int) -> tuple[int, int] | Literal["bad"] | None:
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


class _Exchange:
    """One request being answered: its connection, head and log record."""

    def __init__(self, conn: HttpConnection, req: Request, record: RequestRecord) -> None:
        self.conn = conn
        self.req = req
        self.record = record


class Router:
    """Answers each request from the catalog, applying the registered faults."""

    def __init__(
        self, hub: LoopbackHub, catalog: Catalog, faults: FaultRegistry, log: RequestLog
    ) -> None:
        self._settings = hub  # read each request: url, redirect_lfs and chunk_size may change
        self._catalog = catalog
        self._faults = faults
        self._log = log

    async def handle(self, conn: HttpConnection, req: Request) -> None:
        segs = req.path.split("/")[1:]
        if req.method not in ("GET", "HEAD"):
            await self._send_error(self._open(conn, req, "other"), 405)
            return
        if len(segs) >= 4 and segs[0] == "api" and segs[1] == "models":
            repo_id = f"{unquote(segs[2])}/{unquote(segs[3])}"
            rest = [unquote(s) for s in segs[4:]]
            if not rest or (rest[0] == "revision" and len(rest) == 2):
                ex = self._open(conn, req, "model_info", repo_id)
                await self._model_info(ex, repo_id, rest[1] if rest else None)
                return
            if rest[0] == "tree" and len(rest) >= 2:
                ex = self._open(conn, req, "tree", repo_id)
                await self._tree(ex, repo_id, rest[1], "/".join(rest[2:]))
                return
        elif len(segs) >= 5 and (segs[0] == "cdn" or segs[2] == "resolve"):
            # /cdn/{org}/{repo}/{commit}/{path} or /{org}/{repo}/resolve/{revision}/{path}
            kind: Literal["resolve", "cdn"] = "cdn" if segs[0] == "cdn" else "resolve"
            owner = segs[1:3] if kind == "cdn" else segs[0:2]
            repo_id = "/".join(unquote(s) for s in owner)
            path = "/".join(unquote(s) for s in segs[4:])
            ex = self._open(conn, req, kind, repo_id, path)
            await self._file(ex, kind, repo_id, unquote(segs[3]), path)
            return
        await self._send_error(self._open(conn, req, "other"), 404)

    def _open(
        self,
        conn: HttpConnection,
        req: Request,
        kind: RequestKind,
        repo: str | None = None,
        file: str | None = None,
    ) -> _Exchange:
        record = RequestRecord(
            method=req.method,
            target=req.target,
            path=req.path,
            kind=kind,
            headers=dict(req.headers),
            repo=repo,
            file=file,
        )
        self._log.add(record)
        return _Exchange(conn, req, record)

    # -- routes ------------------------------------------------------------------------------

    async def _repo_or_error(
        self, ex: _Exchange, repo_id: str, revision: str | None
    ) -> HubRepo | None:
        """The repo revision, or ``None`` after answering the error (fault or 404)."""
        fault = self._faults.take("status", (repo_id,))
        if fault is not None:
            error_code = "RepoNotFound" if fault.code == 404 else None
            await self._send_error(ex, fault.code, error_code, None, fault.headers)
            return None
        repo, known = self._catalog.find(repo_id, revision)
        if repo is None:
            await self._send_not_found(ex, revision, known)
        return repo

    async def _model_info(self, ex: _Exchange, repo_id: str, revision: str | None) -> None:
        repo = await self._repo_or_error(ex, repo_id, revision)
        if repo is None:
            return
        blobs = ex.req.query.get("blobs", ["false"])[0].lower() in ("1", "true")
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
        await self._send_json(ex, 200, body)

    async def _tree(self, ex: _Exchange, repo_id: str, revision: str, subpath: str) -> None:
        repo = await self._repo_or_error(ex, repo_id, revision)
        if repo is None:
            return
        recursive = ex.req.query.get("recursive", ["false"])[0].lower() in ("1", "true")
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
            await self._send_error(ex, 404, "EntryNotFound", "Entry not found")
            return
        dirs = [
            {"type": "directory", "oid": git_blob_oid(d.encode()), "size": 0, "path": d}
            for d in sorted(folders)
        ]
        await self._send_json(ex, 200, dirs + entries)

    async def _file(
        self,
        ex: _Exchange,
        kind: Literal["resolve", "cdn"],
        repo_id: str,
        revision: str,
        path: str,
    ) -> None:
        file_keys = (path, f"{repo_id}/{path}")
        repo, known = self._catalog.find(repo_id, revision)
        file = repo.files.get(path) if repo is not None else None
        # Status faults hit the resolve step (one countdown per download attempt); the CDN
        # URL it redirects to is taken as signed and always answers.
        fault = self._faults.take("status", (*file_keys, repo_id)) if kind == "resolve" else None
        if fault is not None:
            extra = {"Content-Range": f"bytes */{file.size}"} if file and fault.code == 416 else {}
            extra.update(fault.headers)
            error_code = None
            if fault.code == 404:
                error_code = "RepoNotFound" if fault.key == repo_id else "EntryNotFound"
            await self._send_error(ex, fault.code, error_code, None, extra)
            return
        if kind == "resolve" and self._faults.take("redirect_loop", file_keys) is not None:
            location = f"{self._settings.url}{ex.req.target}"
            await self._send_head(ex, 302, {"Location": location, "Content-Length": "0"})
            await self._end(ex)
            return
        if repo is None:
            await self._send_not_found(ex, revision, known)
            return
        if file is None:
            await self._send_error(ex, 404, "EntryNotFound", "Entry not found")
            return
        common = {
            "X-Repo-Commit": repo.commit,
            "X-Linked-Etag": file.etag,
            "X-Linked-Size": str(file.size),
            "ETag": file.etag,
            "Accept-Ranges": "bytes",
        }
        if kind == "resolve" and file.lfs and self._settings.redirect_lfs:
            location = f"{self._settings.url}/cdn/{repo.repo_id}/{repo.commit}/{file.path}"
            await self._send_head(ex, 302, {**common, "Location": location, "Content-Length": "0"})
            await self._end(ex)
            return
        ignore = self._faults.take("ignore_range", file_keys) is not None
        span = None if ignore else parse_range(ex.req.headers.get("range"), file.size)
        if span == "bad":
            headers = {**common, "Content-Range": f"bytes */{file.size}"}
            await self._send_error(ex, 416, None, "Range Not Satisfiable", headers)
            return
        start, end = span if span is not None else (0, file.size - 1)
        headers = {**common, "Content-Type": "application/octet-stream"}
        headers["Content-Length"] = str(end - start + 1)
        if span is not None:
            headers["Content-Range"] = f"bytes {start}-{end}/{file.size}"
        await self._send_head(ex, 206 if span is not None else 200, headers)
        if ex.req.method != "HEAD":
            await self._send_file(ex, file, start, end + 1, file_keys)
        await self._end(ex)

    # -- the file body, where the byte-level faults land -------------------------------------

    async def _send_file(
        self, ex: _Exchange, file: HubFile, start: int, stop: int, keys: tuple[str, ...]
    ) -> None:
        """Send ``[start, stop)`` of the file, applying its cut, stall, drip and corrupt faults.

        A stall holds after exactly ``nbytes`` body bytes; a cut drops the connection after
        exactly ``nbytes``; a drip sends one byte per interval after ``nbytes``; corrupt
        flips every byte (same length). Each piece goes to
        the socket as one ``Data`` event, unchanged by h11.
        """
        cut = self._faults.take("cut", keys)
        stall = self._faults.take("stall", keys)
        drip = self._faults.take("drip", keys)
        corrupt = self._faults.take("corrupt", keys) is not None
        sent = 0

        async def sink(view: bytes) -> None:
            nonlocal sent, stall
            while view:
                limit = len(view)
                if stall is not None and stall.nbytes >= sent:
                    limit = min(limit, stall.nbytes - sent)
                if cut is not None:
                    limit = min(limit, cut.nbytes - sent)
                if drip is not None and sent >= drip.nbytes:
                    limit = min(limit, 1)
                    await anyio.sleep(drip.interval)
                elif drip is not None:
                    limit = min(limit, drip.nbytes - sent)
                if limit > 0:
                    piece = view[:limit]
                    await ex.conn.send_body(piece.translate(_FLIP) if corrupt else piece)
                    sent += limit
                    self._log.count_body(ex.record, limit)
                    view = view[limit:]
                if stall is not None and sent >= stall.nbytes:
                    assert stall.stall is not None
                    held, stall = stall.stall, None
                    await held._hold()
                if cut is not None and sent >= cut.nbytes:
                    await ex.conn.drop(abrupt=cut.abrupt)

        await self._chunks(file, start, stop, sink)

    async def _chunks(
        self, file: HubFile, start: int, stop: int, sink: Callable[[bytes], Awaitable[None]]
    ) -> None:
        """Feed ``[start, stop)`` of the file to ``sink`` in chunks, reading as it goes."""
        chunk_size = self._settings.chunk_size
        if isinstance(file.source, bytes):
            for pos in range(start, stop, chunk_size):
                await sink(file.source[pos : min(stop, pos + chunk_size)])
            return
        async with await anyio.open_file(file.source, "rb") as f:
            await f.seek(start)
            pos = start
            while pos < stop:
                data = await f.read(min(chunk_size, stop - pos))
                if not data:
                    raise RuntimeError(f"{file.source} is shorter than {file.size} bytes")
                pos += len(data)
                await sink(data)

    # -- responses ---------------------------------------------------------------------------

    async def _send_head(self, ex: _Exchange, status: int, headers: Mapping[str, str]) -> None:
        self._log.update(ex.record, status=status)
        await ex.conn.send_head(status, headers, keep_alive=ex.req.keep_alive)

    async def _end(self, ex: _Exchange) -> None:
        await ex.conn.end()
        self._log.update(ex.record, completed=True)

    async def _send_json(
        self, ex: _Exchange, status: int, body: object, extra: Mapping[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", **(extra or {})}
        headers["Content-Length"] = str(len(data))
        await self._send_head(ex, status, headers)
        if ex.req.method != "HEAD":
            await ex.conn.send_body(data)
        await self._end(ex)

    async def _send_error(
        self,
        ex: _Exchange,
        status: int,
        error_code: str | None = None,
        message: str | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        message = message or REASONS.get(status, "error")
        headers = dict(extra or {})
        if error_code is not None:
            headers["X-Error-Code"] = error_code
            headers["X-Error-Message"] = message
        await self._send_json(ex, status, {"error": message}, headers)

    async def _send_not_found(self, ex: _Exchange, revision: str | None, known: bool) -> None:
        """404 for a repo that does not exist, or for a revision it does not have."""
        code = "RevisionNotFound" if known else "RepoNotFound"
        message = f"Invalid rev id: {revision}" if known else "Repository not found"
        await self._send_error(ex, 404, code, message)
