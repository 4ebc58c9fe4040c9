"""Faults on the wire, with small synthetic GGUFs: retries, resumes, corruption, splits."""

from __future__ import annotations

import functools
import hashlib
from typing import TYPE_CHECKING

import anyio
import pytest

from facecrab import DownloadError, IntegrityError, RetryPolicy
from rusty_genius_core import AssetError, AssetEvent, AssetFailed, AssetProgress, AssetStarted
from rusty_genius_testhub import EventLog

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from facecrab import AssetAuthority
    from rusty_genius_testhub import HubRepo, LoopbackHub

TINY = "acme/tiny-GGUF"
Q4 = "tiny.Q4_K_M.gguf"
REF = f"{TINY}:Q4_K_M"


def partial_of(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def content(repo: HubRepo, name: str = Q4) -> bytes:
    source = repo.files[name].source
    assert isinstance(source, bytes)
    return source


@pytest.fixture
def q4_in_cache(tmp_path: Path) -> Path:
    """Where the tiny repo's Q4 file lands in the cache, its folder made and the file not."""
    path = tmp_path / "cache" / TINY / Q4
    path.parent.mkdir(parents=True)
    return path


async def test_corrupt_bytes_leave_no_file_no_partial_no_entry(
    hub: LoopbackHub,
    tiny_repo: HubRepo,
    make_authority: Callable[..., AssetAuthority],
    tmp_path: Path,
) -> None:
    hub.corrupt(Q4)
    events = EventLog[AssetEvent]()
    async with make_authority() as assets:
        with pytest.raises(
            IntegrityError, match=r"tiny\.Q4_K_M\.gguf: downloaded sha256 \w+, expected"
        ) as err:
            await assets.ensure_model(REF, progress=events)
        assert await assets.list_models() == []
    assert isinstance(err.value, AssetError)
    path = tmp_path / "cache" / TINY / Q4
    assert not path.exists()
    assert not partial_of(path).exists()
    assert not (tmp_path / "home" / "registry.toml").exists()
    assert isinstance(events[-1], AssetFailed)
    assert events[-1].reference == REF
    assert tiny_repo.files[Q4].sha256 in events[-1].message
    assert len(hub.body_requests(Q4)) == 1  # a mismatch is final, not retried


async def test_server_errors_are_retried_with_backoff(
    hub: LoopbackHub, tiny_repo: HubRepo, make_authority: Callable[..., AssetAuthority], sleeps
) -> None:
    hub.status(Q4, 500, times=2)
    hub.status(Q4, 503)
    async with make_authority() as assets:
        model = await assets.ensure_model(REF)
    assert model.path.read_bytes() == content(tiny_repo)
    assert sleeps.delays == [0.5, 1.0, 2.0]
    assert [r.status for r in hub.requests if r.kind == "resolve"] == [500, 500, 503, 302]


async def test_failures_in_a_row_give_up_and_keep_the_partial(
    hub: LoopbackHub,
    tiny_repo: HubRepo,
    make_authority: Callable[..., AssetAuthority],
    sleeps,
    tmp_path: Path,
) -> None:
    hub.cut_after(Q4, 1_500_000)  # the first answer brings 1.5 MB ...
    hub.cut_after(Q4, 0, times=None)  # ... every later one nothing
    async with make_authority(retry=RetryPolicy(attempts=2)) as assets:
        with pytest.raises(
            DownloadError, match="giving up after 3 failed attempts in a row at byte 1500000"
        ):
            await assets.ensure_model(REF)
        assert await assets.list_models() == []
    assert sleeps.delays == [0.5, 1.0]  # the count restarted after the attempt that made progress
    path = tmp_path / "cache" / TINY / Q4
    assert partial_of(path).read_bytes() == content(tiny_repo)[:1_500_000]
    assert not path.exists()

    hub.clear_faults()  # a later call resumes where the partial ends
    async with make_authority() as assets:
        model = await assets.ensure_model(REF)
    assert model.path.read_bytes() == content(tiny_repo)
    assert hub.ranges_seen(Q4)[-1] == "bytes=1500000-"
    assert hub.bytes_served(Q4) == len(content(tiny_repo))


async def test_416_on_resume_revalidates_and_starts_over(
    hub: LoopbackHub, tiny_repo: HubRepo, make_authority: Callable[..., AssetAuthority]
) -> None:
    hub.cut_after(Q4, 1_000_000)
    hub.status(Q4, 416, after=1)  # the first request gets through (and is cut); the resume not
    async with make_authority() as assets:
        model = await assets.ensure_model(REF)
    assert model.path.read_bytes() == content(tiny_repo)
    # cut at 1 MB, resume refused with 416, partial discarded, whole file again
    assert hub.ranges_seen(Q4) == [None, "bytes=1000000-", None]
    assert [r.status for r in hub.requests if r.kind == "resolve"] == [302, 416, 302]


async def test_server_ignoring_range_restarts_the_file(
    hub: LoopbackHub, tiny_repo: HubRepo, make_authority: Callable[..., AssetAuthority]
) -> None:
    hub.cut_after(Q4, 2_000_000)
    hub.ignore_range(Q4)
    async with make_authority() as assets:
        model = await assets.ensure_model(REF)
    assert model.path.read_bytes() == content(tiny_repo)
    assert [(r.status, r.range) for r in hub.body_requests(Q4)] == [
        (200, None),
        (200, "bytes=2000000-"),
    ]


async def test_a_cancelled_pull_resumes_on_restart(
    hub: LoopbackHub,
    tiny_repo: HubRepo,
    make_authority: Callable[..., AssetAuthority],
    tmp_path: Path,
) -> None:
    stop_at = 1_200_000
    hub.stall(Q4, stop_at)  # never released: the transfer hangs there
    async with make_authority(progress_bytes=1, progress_interval=0) as assets:
        with anyio.CancelScope() as scope:

            async def progress(event: AssetEvent) -> None:
                if isinstance(event, AssetProgress) and event.done == stop_at:
                    scope.cancel()  # like Ctrl-C in the middle of the file

            await assets.ensure_model(REF, progress=progress)
        assert scope.cancelled_caught
    path = tmp_path / "cache" / TINY / Q4
    assert partial_of(path).stat().st_size == stop_at
    assert not path.exists()

    events = EventLog[AssetEvent]()
    async with make_authority() as assets:
        model = await assets.ensure_model(REF, progress=events)
    assert model.path.read_bytes() == content(tiny_repo)
    assert hub.ranges_seen(Q4) == [None, f"bytes={stop_at}-"]
    assert hub.bytes_served(Q4) == len(content(tiny_repo))
    assert isinstance(events[0], AssetStarted)
    assert events[1] == AssetProgress(filename=Q4, done=stop_at, total=len(content(tiny_repo)))


async def test_a_stale_partial_from_another_version_is_replaced(
    hub: LoopbackHub,
    tiny_repo: HubRepo,
    make_authority: Callable[..., AssetAuthority],
    q4_in_cache: Path,
) -> None:
    partial_of(q4_in_cache).write_bytes(
        b"GGUF" + b"\0" * 999_996
    )  # right length prefix, wrong bytes
    async with make_authority() as assets:
        model = await assets.ensure_model(REF)
    assert model.path.read_bytes() == content(tiny_repo)
    assert hub.ranges_seen(Q4) == ["bytes=1000000-", None]


async def test_a_verified_file_missing_from_the_registry_is_recorded_without_fetching(
    hub: LoopbackHub,
    tiny_repo: HubRepo,
    make_authority: Callable[..., AssetAuthority],
    q4_in_cache: Path,
) -> None:
    path = q4_in_cache
    path.write_bytes(content(tiny_repo))  # e.g. a crash between the rename and the record
    async with make_authority() as assets:
        model = await assets.ensure_model(REF)
        [entry] = await assets.list_models()
    assert model.path == path == entry.path
    assert hub.body_requests(Q4) == []


async def test_split_gguf_fetches_every_part(
    hub: LoopbackHub,
    tiny_repo: HubRepo,
    make_authority: Callable[..., AssetAuthority],
    tmp_path: Path,
) -> None:
    names = [f"F16/tiny.F16-{i:05d}-of-00003.gguf" for i in (1, 2, 3)]
    started: list[str] = []

    async def progress(event: AssetEvent) -> None:
        if isinstance(event, AssetStarted):
            started.append(event.filename)

    async with make_authority() as assets:
        model = await assets.ensure_model(f"{TINY}:f16", progress=progress)
        [entry] = await assets.list_models()
        again = await assets.ensure_model(f"{TINY}:F16")
    expected = tuple(tmp_path / "cache" / TINY / n for n in names)
    assert model.parts == expected == again.parts == entry.files
    assert model.path == expected[0]
    assert started == names
    for name, path in zip(names, expected, strict=True):
        assert path.read_bytes() == content(tiny_repo, name)
    assert [p.sha256 for p in entry.parts] == [
        hashlib.sha256(content(tiny_repo, n)).hexdigest() for n in names
    ]
    assert (entry.filename, entry.quantization) == (names[0], "F16")
    assert again.cached
    assert all(len(hub.body_requests(n)) == 1 for n in names)


async def test_concurrent_callers_share_the_owners_failure(
    hub: LoopbackHub, tiny_repo: HubRepo, make_authority: Callable[..., AssetAuthority]
) -> None:
    hub.corrupt(Q4)
    release = anyio.Event()
    hub.stall(Q4, 100_000, release)
    errors: list[BaseException] = []
    async with make_authority() as assets, anyio.create_task_group() as tg:
        for _ in range(3):

            async def pull() -> None:
                try:
                    await assets.ensure_model(REF)
                except IntegrityError as exc:
                    errors.append(exc)

            tg.start_soon(pull)
        await hub.wait_for(lambda h: sum(r.completed for r in h.requests if r.kind == "tree") == 3)
        release.set()
    assert len(errors) == 3
    assert len(hub.body_requests(Q4)) == 1  # the waiters did not repeat the bad download


async def test_a_stalled_download_reports_where_it_stalled(
    hub: LoopbackHub, tiny_repo: HubRepo, make_authority: Callable[..., AssetAuthority]
) -> None:
    """Counts held back by the throttle go out within ``progress_interval``, bytes or not.

    Without that, the last event before a stall is one throttled update behind, and a
    progress bar freezes at a number the download has already passed.
    """
    stalled_at = 1_000_000
    release = anyio.Event()
    hub.stall(Q4, stalled_at, release)
    reported = anyio.Event()
    done: list[int] = []

    async def progress(event: AssetEvent) -> None:
        if isinstance(event, AssetProgress):
            done.append(event.done)
            if event.done == stalled_at:
                reported.set()

    async with make_authority(progress_interval=0.2) as assets, anyio.create_task_group() as tg:
        tg.start_soon(functools.partial(assets.ensure_model, REF, progress=progress))
        with anyio.fail_after(10):  # without the trailing update it never comes: fails here
            await reported.wait()
        assert hub.body_requests(Q4)[-1].body_bytes == stalled_at  # still stalled
        release.set()
    assert done[-1] == len(content(tiny_repo))
    assert done == sorted(done)


async def test_a_404_leaves_no_empty_partial(
    hub: LoopbackHub,
    tiny_repo: HubRepo,
    make_authority: Callable[..., AssetAuthority],
    tmp_path: Path,
) -> None:
    hub.status(Q4, 404)
    async with make_authority() as assets:
        with pytest.raises(DownloadError, match=r"not found \(HTTP 404\)"):
            await assets.ensure_model(REF)
    folder = tmp_path / "cache" / TINY
    assert sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock")) == []


@pytest.mark.parametrize("planted", ["partial", "lock", "folder", "part"])
async def test_a_planted_symlink_is_refused_and_its_target_untouched(
    hub: LoopbackHub,
    tiny_repo: HubRepo,
    make_authority: Callable[..., AssetAuthority],
    tmp_path: Path,
    planted: str,
) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"fourteen bytes")
    path = tmp_path / "cache" / TINY / Q4
    path.parent.parent.mkdir(parents=True)
    reference = REF
    if planted == "folder":  # the repo's folder links elsewhere
        (tmp_path / "elsewhere").mkdir()
        path.parent.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
        link = path.parent
        victim = tmp_path / "elsewhere"
    else:
        path.parent.mkdir()
        if planted == "part":  # the second file of a split GGUF
            reference = f"{TINY}:F16"
            link = partial_of(tmp_path / "cache" / TINY / "F16/tiny.F16-00002-of-00003.gguf")
            link.parent.mkdir()
        else:
            link = partial_of(path) if planted == "partial" else path.with_name(Q4 + ".lock")
        link.symlink_to(victim)
    before = sorted(victim.iterdir()) if victim.is_dir() else victim.read_bytes()
    async with make_authority() as assets:
        with pytest.raises(AssetError) as err:
            await assets.ensure_model(reference)
        assert await assets.list_models() == []
    assert str(err.value).startswith(f"{link} is a symbolic link; facecrab ")
    assert "Remove the link" in str(err.value)
    assert link.is_symlink()
    after = sorted(victim.iterdir()) if victim.is_dir() else victim.read_bytes()
    assert after == before
    if planted != "part":
        assert hub.body_requests(Q4) == []


async def test_a_partial_linked_after_the_check_is_still_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``O_NOFOLLOW``: a link planted between the check and the open is not followed."""
    from facecrab import _partial
    from facecrab._partial import PartialFile

    checks: list[Path] = []
    real = _partial.refuse_link

    def late(path: Path) -> None:  # the first check ran before the link was planted
        checks.append(path)
        if len(checks) > 1:
            real(path)

    monkeypatch.setattr(_partial, "refuse_link", late)
    victim = tmp_path / "victim"
    victim.write_bytes(b"fourteen bytes")
    link = tmp_path / "model.gguf.partial"
    link.symlink_to(victim)
    with pytest.raises(AssetError, match=rf"^{link} is a symbolic link"):
        await PartialFile(link).open(None)
    assert checks == [link, link]  # the second one came from the refused open
    assert victim.read_bytes() == b"fourteen bytes"
