"""The asset authority: a model reference in, a verified local GGUF out, events on the way.

Order of business for :meth:`AssetAuthority.ensure_model`:

1. the reference and the manifests give a :class:`~facecrab._resolve.Wanted`;
2. a registry entry whose files are on disk answers at once, with no network at all;
3. otherwise the hub's tree names the file(s), sha256 and size (skipped when the
   manifest already pins one file with its checksum);
4. the download runs under a per-file lock: an anyio lock shared by the tasks of this
   process (the others wait and receive the owner's progress) and a file lock shared
   with other processes (the second process waits, then finds the verified file);
5. the registry is written only after every file was verified.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Final, Literal
from urllib.parse import quote

import anyio
import anyio.to_thread
import attrs

from rusty_genius_core import (
    AssetComplete,
    AssetError,
    AssetEvent,
    AssetFailed,
    AssetStarted,
    GeniusError,
    Mirror,
    ModelSpec,
    UserManifest,
    background_tasks,
)

from ._adapters import ensure_adapters, find_adapters
from ._download import RetryPolicy, Sleep, fetch_file
from ._errors import OfflineError, RepoNotFoundError
from ._files import delete_files, files_present, same_key, stored_token
from ._flights import Flight, Flights, no_progress
from ._local import LocalModel, with_adapters
from ._locks import file_lock
from ._manifest import load_manifest
from ._mirrors import MirrorSource, fetch_from_mirrors
from ._paths import GeniusPaths
from ._progress import ProgressThrottle
from ._reach import CONNECT_TIMEOUT
from ._registry import Registry, RegistryEntry, RegistryPart
from ._resolve import (
    Resolution,
    Wanted,
    list_repo_files,
    pinned,
    registry_hits,
    repo_not_found,
    select_gguf,
    wanted,
)
from ._stall import TransferLimits

if TYPE_CHECKING:
    from pathlib import Path

    import httpx
    from anyio.streams.memory import MemoryObjectReceiveStream

__all__ = ["DEFAULT_ENDPOINT", "AssetAuthority", "ProgressCallback"]

DEFAULT_ENDPOINT: Final = "https://huggingface.co"
ProgressCallback = Callable[[AssetEvent], Awaitable[None]]
"""Receives every asset event of one call, awaited in order (backpressure, nothing dropped)."""

_TRUE: Final = frozenset({"1", "true", "yes", "on"})


class AssetAuthority:
    """Resolves, downloads, verifies and records models. Use ``async with``.

    Arguments override the environment, which is read once here: ``GENIUS_HOME``,
    ``GENIUS_CACHE``, ``HF_ENDPOINT``, ``HF_TOKEN`` (else huggingface_hub's token store,
    read at the first network use), ``HF_HUB_OFFLINE``. ``token=False`` sends no token.
    ``environ`` replaces ``os.environ`` (nothing is ever written to it). ``http_client``
    is used as given and not closed; otherwise the authority creates one at its first
    download and closes it on exit (a registry hit never pays for httpx or
    huggingface_hub). ``retry`` and ``sleep`` shape the backoff between failed attempts.
    ``stall_timeout``, ``min_rate`` and ``attempt_deadline`` (else ``GENIUS_STALL_TIMEOUT``,
    ``GENIUS_MIN_RATE``, ``GENIUS_ATTEMPT_DEADLINE``) say when a slow download is given
    up on: see :class:`~facecrab._stall.TransferLimits`. ``mirrors=False`` (else
    ``GENIUS_MIRRORS=0``) never tries the mirrors a manifest lists.
    """

    def __init__(
        self,
        *,
        home: str | os.PathLike[str] | None = None,
        cache: str | os.PathLike[str] | None = None,
        endpoint: str | None = None,
        token: str | Literal[False] | None = None,
        offline: bool | None = None,
        http_client: httpx.AsyncClient | None = None,
        retry: RetryPolicy | None = None,
        sleep: Sleep | None = None,
        environ: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        lock_poll_interval: float = 0.05,
        progress_bytes: int = 64 * 1024,
        progress_interval: float = 0.1,
        stall_timeout: float | None = None,
        min_rate: float | None = None,
        attempt_deadline: float | None = None,
        mirrors: bool | None = None,
    ) -> None:
        env: Mapping[str, str] = os.environ if environ is None else environ
        self._environ = env
        off = env.get("GENIUS_MIRRORS", "1").lower() in {"0", "false", "no", "off"}
        self.use_mirrors = not off if mirrors is None else mirrors
        self.limits = TransferLimits.from_env(
            env, stall_timeout=stall_timeout, min_rate=min_rate, attempt_deadline=attempt_deadline
        )
        self.paths = GeniusPaths.from_env(home=home, cache=cache, environ=env)
        self.registry = Registry(self.paths.registry_file)
        self.endpoint = (endpoint or env.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
        self.offline = (
            offline if offline is not None else env.get("HF_HUB_OFFLINE", "").lower() in _TRUE
        )
        if token is None:
            token = env.get("HF_TOKEN") or None
        self.__token: str | None = token or None
        # The token store is read at the first network use (it imports huggingface_hub).
        self.__token_pending = token is None and environ is None
        self.retry = retry or RetryPolicy()
        self._sleep: Sleep = sleep or anyio.sleep
        self._timeout = timeout
        self._lock_poll = lock_poll_interval
        self._progress_bytes = progress_bytes
        self._progress_interval = progress_interval
        self._given_client = http_client
        self._client: httpx.AsyncClient | None = http_client
        self._entered = False
        self._manifest: UserManifest | None = None
        self._flights = Flights()

    def __repr__(self) -> str:  # never shows the token
        return (
            f"AssetAuthority(home={str(self.paths.home)!r}, cache={str(self.paths.cache)!r}, "
            f"endpoint={self.endpoint!r}, offline={self.offline}, token={'set' if self._token() else 'none'})"
        )

    @property
    def has_token(self) -> bool:
        return self._token() is not None

    def _token(self) -> str | None:
        if self.__token_pending:
            self.__token_pending = False
            self.__token = stored_token()
        return self.__token

    async def __aenter__(self) -> AssetAuthority:
        self._entered = True
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._entered = False
        client, self._client = self._client, self._given_client
        if client is not None and client is not self._given_client:
            await client.aclose()

    def _http(self) -> httpx.AsyncClient:
        """The HTTP client, created at the first download (creating one costs ~0.4 s)."""
        if self._client is None:
            if not self._entered:
                raise RuntimeError("AssetAuthority downloads need `async with AssetAuthority(...)`")
            import httpx

            from ._transport import WideReadTransport

            self._client = httpx.AsyncClient(
                follow_redirects=True,
                # The stall rule, not a read timeout, decides when a slow body is given up on.
                timeout=httpx.Timeout(
                    max(self._timeout, 2 * self.limits.stall_timeout), connect=CONNECT_TIMEOUT
                ),
                transport=WideReadTransport(),
            )
        return self._client

    # -- public API ---------------------------------------------------------------------------

    async def ensure_model(
        self, reference: str, *, progress: ProgressCallback | None = None
    ) -> LocalModel:
        """The verified local copy of ``reference``, downloaded first if needed.

        ``progress`` receives :class:`AssetStarted` and :class:`AssetProgress` for each file
        fetched, then :class:`AssetComplete`, or :class:`AssetFailed` before the error is
        raised. A task that waits for another task's download of the same file receives
        that download's progress, then its own ``AssetComplete``.
        """
        emit = progress if progress is not None else no_progress
        try:
            return await self._ensure(reference, emit)
        except GeniusError as exc:
            if progress is not None:
                await progress(AssetFailed(reference=str(reference), message=_message(exc)))
            raise

    @contextlib.asynccontextmanager
    async def open_pull(
        self, reference: str, *, buffer: int = 16
    ) -> AsyncIterator[MemoryObjectReceiveStream[AssetEvent]]:
        """Stream the events of :meth:`ensure_model`; the stream ends after the last one.

        The pull runs in a task group owned by the ``async with`` block. Leaving the block
        early cancels the pull (a partial file is kept for later); an
        :class:`~rusty_genius_core.AssetError` is raised when the block exits.
        """
        send, receive = anyio.create_memory_object_stream[AssetEvent](buffer)
        failure: GeniusError | None = None

        async def pull() -> None:
            nonlocal failure
            with send:
                try:
                    await self.ensure_model(reference, progress=send.send)
                except GeniusError as exc:  # raised when the block ends, after AssetFailed
                    failure = exc

        async with background_tasks() as tg:
            tg.start_soon(pull)
            with receive:
                yield receive
        if failure is not None:
            raise failure

    async def find_local(self, reference: str) -> LocalModel | None:
        """The downloaded copy of ``reference``, or ``None`` when it is not downloaded.

        Reads the manifests and the registry only: no network, no ``async with`` needed,
        no events. A model counts as downloaded when the registry has it and its file(s)
        are on disk with the recorded sizes, the same check :meth:`ensure_model` makes
        before it serves a model without the network. A reference that cannot be
        resolved (unknown name, bad syntax) raises as in :meth:`ensure_model`.
        """
        want = await self._wanted(reference)
        return await find_adapters(await self._local(want), want, self._local)

    async def resolve(self, reference: str, *, network: bool = True) -> ModelSpec:
        """The complete :class:`ModelSpec` for ``reference``.

        A downloaded model answers from the registry; a manifest entry that names its file
        answers from the manifest. Only otherwise is the hub asked, and with
        ``network=False`` (or offline) that raises :class:`OfflineError` instead.
        """
        want = await self._wanted(reference)
        hits = registry_hits(want, await self.registry.entries())
        if hits:
            return attrs.evolve(hits[0].spec(want.name), **want.created_fields())
        if want.complete or (want.filename is not None and not network):
            assert want.filename is not None
            return want.spec(want.filename, want.sha256, want.size)
        if not network or self.offline:
            raise OfflineError(
                f"model {reference!r}: {want.repo} must be listed on the hub to choose a file "
                f"for {want.quantization}, and the network is off"
            )
        return (await self._resolution(want)).spec

    async def mirrors(self, reference: str) -> tuple[Mirror, ...]:
        """The mirrors the manifests list for ``reference`` (tried after the hub)."""
        return want.mirrors if (want := await self._wanted(reference)).sha256 else ()

    async def list_models(self) -> list[RegistryEntry]:
        """Every model in the registry, by repo and filename."""
        return sorted(await self.registry.entries(), key=lambda e: e.key)

    async def remove_model(self, reference: str) -> bool:
        """Delete the model's file(s) and registry entry; ``False`` when it was not there."""
        want = await self._wanted(reference)
        found = registry_hits(want, await self.registry.entries())
        for entry in found:
            with self._flights.using(str(entry.path)) as flight:
                async with flight.lock, file_lock(self.paths, entry.path, self._lock_poll):
                    await self.registry.remove(same_key(entry), delete_files)
        return bool(found)

    # -- resolution ---------------------------------------------------------------------------

    async def manifest(self) -> UserManifest:
        """The embedded ``models.toml`` with ``$GENIUS_HOME/manifest.toml`` merged over it."""
        if self._manifest is None:
            self._manifest = await anyio.to_thread.run_sync(load_manifest, self.paths.manifest_file)
        return self._manifest

    async def _wanted(self, reference: str) -> Wanted:
        want = wanted(reference, await self.manifest())
        return want if self.use_mirrors else attrs.evolve(want, mirrors=())

    async def _resolution(self, want: Wanted) -> Resolution:
        if want.complete:
            return pinned(want)
        try:
            listing = await list_repo_files(
                endpoint=self.endpoint,
                token=self._token(),
                repo=want.repo,
                revision=want.revision,
                offline=self.offline,
            )
        except AssetError as exc:
            if want.mirrors and want.filename is not None and want.sha256 is not None:
                return pinned(want)  # the hub failed or lacks it: the mirrors come next
            if isinstance(exc, RepoNotFoundError):
                raise repo_not_found(want, exc, await self.manifest()) from exc
            raise
        return select_gguf(want, listing)

    async def _local(self, want: Wanted) -> LocalModel | None:
        for entry in registry_hits(want, await self.registry.entries()):
            if await anyio.to_thread.run_sync(files_present, entry):
                return LocalModel(
                    spec=entry.spec(want.name), path=entry.path, cached=True, parts=entry.files
                )
        return None

    # -- downloading --------------------------------------------------------------------------

    async def _ensure(self, reference: str, emit: ProgressCallback) -> LocalModel:
        want = await self._wanted(reference)
        # Adapters first: the model's AssetComplete ends a pull.
        adapters = await ensure_adapters(want.adapters, self._ensure_file, emit)
        return with_adapters(await self._ensure_file(reference, want, emit), want, adapters)

    async def _ensure_file(
        self, reference: str, want: Wanted, emit: ProgressCallback
    ) -> LocalModel:
        found = await self._local(want)
        if found is not None:
            await emit(AssetComplete(reference=reference, path=str(found.path), cached=True))
            return found
        if self.offline:
            raise OfflineError(
                f"model {reference!r} ({want.repo}, {want.quantization}) is not in the registry "
                f"{self.registry.path}, and the hub is offline (HF_HUB_OFFLINE)"
            )
        resolution = await self._resolution(want)
        key = str(self._dest(resolution.spec.repo, resolution.files[0].filename))
        with self._flights.using(key) as flight:
            generation = flight.generation
            await flight.join(emit)
            try:
                if flight.generation != generation and flight.error is not None:
                    # The download this task waited for failed; do not repeat it at once.
                    raise copy.copy(flight.error) from flight.error
                try:
                    model = await self._fetch(reference, want, resolution, emit, flight)
                except AssetError as exc:
                    flight.error = exc
                    flight.generation += 1
                    raise
                flight.error = None
                flight.generation += 1
                return model
            finally:
                flight.lock.release()

    async def _fetch(
        self,
        reference: str,
        want: Wanted,
        resolution: Resolution,
        emit: ProgressCallback,
        flight: Flight,
    ) -> LocalModel:
        found = await self._local(want)  # another task finished it while this one waited
        if found is None:
            spec = resolution.spec
            first = self._dest(spec.repo, resolution.files[0].filename)
            async with file_lock(self.paths, first, self._lock_poll):
                found = await self._local(want)  # another process finished it
                if found is None:
                    entry = await self._download(reference, resolution, flight, emit, want.mirrors)
                    await self.registry.record(entry)
                    found = LocalModel(
                        spec=entry.spec(want.name), path=entry.path, cached=False, parts=entry.files
                    )
        await emit(AssetComplete(reference=reference, path=str(found.path), cached=found.cached))
        return found

    async def _download(
        self,
        reference: str,
        resolution: Resolution,
        flight: Flight,
        emit: ProgressCallback,
        mirrors: tuple[Mirror, ...] = (),
    ) -> RegistryEntry:
        client = self._http()
        spec = resolution.spec
        broadcast = flight.broadcast(emit)
        headers = {"User-Agent": "facecrab/0.1"}
        if token := self._token():
            headers["Authorization"] = f"Bearer {token}"
        parts: list[RegistryPart] = []
        commit: str | None = None
        limit = self.limits.attempt_deadline
        deadline = None if limit is None else anyio.current_time() + limit
        for remote in resolution.files:
            await anyio.to_thread.run_sync(
                self.paths.refuse_links, self._dest(spec.repo, remote.filename)
            )
            await broadcast(
                AssetStarted(reference=reference, filename=remote.filename, total=remote.size)
            )
            throttle = ProgressThrottle(
                broadcast,
                remote.filename,
                remote.size,
                min_bytes=self._progress_bytes,
                min_interval=self._progress_interval,
            )
            async with throttle.trailing():
                try:
                    result = await fetch_file(
                        client,
                        url_for=self._url_for(spec.repo, commit or spec.revision, remote.filename),
                        dest=self._dest(spec.repo, remote.filename),
                        size=remote.size,
                        sha256=remote.sha256,
                        headers=headers,
                        retry=self.retry,
                        sleep=self._sleep,
                        progress=throttle,
                        limits=self.limits,
                        deadline=deadline,
                    )
                except AssetError as exc:
                    if not mirrors or len(resolution.files) != 1:
                        raise
                    result = await fetch_from_mirrors(
                        mirrors,
                        source=self._mirror_source(),
                        dest=self._dest(spec.repo, remote.filename),
                        sha256=remote.sha256,
                        size=remote.size,
                        progress=throttle,
                        hub_error=exc,
                    )
            await throttle.finish(result.size)
            commit = commit or result.commit
            parts.append(
                RegistryPart(
                    filename=remote.filename,
                    size=result.size,
                    sha256=result.sha256,
                    path=result.path,
                )
            )
        head = parts[0]
        return RegistryEntry(
            reference=spec.reference,
            repo=spec.repo,
            revision=spec.revision,
            commit=commit,
            filename=head.filename,
            quantization=spec.quantization,
            size=head.size,
            sha256=head.sha256,
            path=head.path,
            downloaded_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
            purpose=spec.purpose,
            parts=tuple(parts) if len(parts) > 1 else (),
        )

    def _mirror_source(self) -> MirrorSource:
        work = self.paths.cache / ".mirrors"
        return MirrorSource(client=self._http, work_dir=work, environ=self._environ,
                            retry=self.retry, sleep=self._sleep, limits=self.limits)  # fmt: skip

    def _url_for(self, repo: str, revision: str, filename: str) -> Callable[[str | None], str]:
        def url(commit: str | None) -> str:
            rev = quote(commit or revision, safe="")
            return f"{self.endpoint}/{repo}/resolve/{rev}/{quote(filename)}"

        return url

    def _dest(self, repo: str, filename: str) -> Path:
        return self.paths.model_file(repo, filename)


def _message(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
