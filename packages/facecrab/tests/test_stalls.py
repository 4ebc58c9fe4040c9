"""Slow and misbehaving hubs: the stall rule, the overall deadline, Retry-After, redirect loops.

Timer tests run on trio's MockClock (``virtual_time``): the hub runs in the test's own
loop, so a 60 s stall takes no real time. They assert what happened, never how long.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from facecrab import AssetAuthority, DownloadError, RetryPolicy
from facecrab._stall import TransferLimits, retry_after_seconds
from rusty_genius_core import AssetEvent, AssetFailed, ConfigError, GeniusError
from rusty_genius_testhub import EventLog

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from rusty_genius_testhub import HubRepo, LoopbackHub

TINY = "acme/tiny-GGUF"
Q4 = "tiny.Q4_K_M.gguf"
REF = f"{TINY}:Q4_K_M"
SIZE = 2_500_001


def partial_of(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


async def _download_error(make_authority: Callable[..., AssetAuthority], **options: Any) -> str:
    """The message of the DownloadError that ends pulling REF with these authority options."""
    async with make_authority(**options) as assets:
        with pytest.raises(DownloadError) as err:
            await assets.ensure_model(REF)
    return str(err.value)


@pytest.mark.virtual_time
async def test_a_hub_that_stalls_mid_body_ends_in_the_stall_error(
    hub: LoopbackHub,
    tiny_repo: HubRepo,
    make_authority: Callable[..., AssetAuthority],
    tmp_path: Path,
) -> None:
    hub.stall(Q4, 1000, anyio.Event(), times=None)  # every answer: 1000 bytes, then silence
    message = await _download_error(make_authority, stall_timeout=30, retry=RetryPolicy(attempts=2))
    assert message == (
        f"{Q4}: giving up after 3 failed attempts in a row at byte 3000 of {SIZE}: the hub "
        "sent 1000 bytes in 30 s, under the minimum of 1024 bytes/s (min_rate). The partial "
        "file is kept: pulling again resumes from byte 3000; if the link is this slow, raise "
        "GENIUS_STALL_TIMEOUT or lower GENIUS_MIN_RATE"
    )
    assert partial_of(tmp_path / "cache" / TINY / Q4).stat().st_size == 3000
    assert hub.ranges_seen(Q4) == [None, "bytes=1000-", "bytes=2000-"]


@pytest.mark.virtual_time
async def test_a_silent_hub_is_given_up_on_with_what_it_sent(
    hub: LoopbackHub, tiny_repo: HubRepo, make_authority: Callable[..., AssetAuthority]
) -> None:
    hub.stall(Q4, 0, anyio.Event(), times=None)  # headers, then nothing at all
    events = EventLog[AssetEvent]()
    async with make_authority(stall_timeout=5, retry=RetryPolicy(attempts=1)) as assets:
        with pytest.raises(DownloadError) as err:
            await assets.ensure_model(REF, progress=events)
    message = (
        f"{Q4}: giving up after 2 failed attempts in a row at byte 0 of {SIZE}: the hub sent "
        "nothing for 5 s (stall_timeout). Nothing was received, so nothing was kept; if the "
        "link is this slow, raise GENIUS_STALL_TIMEOUT or lower GENIUS_MIN_RATE"
    )
    assert str(err.value) == message
    assert events[-1] == AssetFailed(reference=REF, message=message)


@pytest.mark.virtual_time
@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        pytest.param(
            # One byte every 20 s: a read timeout never fires; the minimum rate does.
            {"stall_timeout": 60, "min_rate": 100, "retry": RetryPolicy(attempts=1)},
            rf"{re.escape(Q4)}: giving up after 2 failed attempts in a row at byte \d+ of {SIZE}: "
            r"the hub sent 100\d bytes in 60 s, under the minimum of 100 bytes/s \(min_rate\)\. "
            r"The partial file is kept: pulling again resumes from byte \d+; if the link is this "
            r"slow, raise GENIUS_STALL_TIMEOUT or lower GENIUS_MIN_RATE",
            id="the-stall-error",
        ),
        pytest.param(
            # With min_rate=0 every byte is progress: only the overall deadline ends the drip.
            {"stall_timeout": 60, "min_rate": 0, "attempt_deadline": 300},
            rf"{re.escape(Q4)}: the download did not finish within 300 s \(attempt_deadline\) and "
            rf"was stopped at byte 10\d\d of {SIZE}\. The partial file is kept: pulling again "
            r"resumes from byte 10\d\d; for a slow link raise GENIUS_ATTEMPT_DEADLINE",
            id="the-attempt-deadline",
        ),
    ],
)
async def test_a_dripping_hub_ends_in_the_limit_that_stops_it(
    hub: LoopbackHub,
    tiny_repo: HubRepo,
    make_authority: Callable[..., AssetAuthority],
    options: dict[str, Any],
    pattern: str,
) -> None:
    """A hub that drips one byte every 20 s is stopped by the limit the options leave."""
    hub.drip(Q4, 1000, 20.0, times=None)
    message = await _download_error(make_authority, **options)
    assert re.fullmatch(pattern, message), message


async def test_retry_after_is_honoured_and_bounded(
    hub: LoopbackHub,
    tiny_repo: HubRepo,
    make_authority: Callable[..., AssetAuthority],
    sleeps,
) -> None:
    hub.status(Q4, 429, retry_after="7")
    hub.status(Q4, 503, retry_after="3600")  # longer than max_retry_after
    hub.status(Q4, 500, retry_after="9")  # not a 429 or 503: the backoff decides
    async with make_authority(retry=RetryPolicy(max_retry_after=120)) as assets:
        model = await assets.ensure_model(REF)
    assert model.path.stat().st_size == SIZE
    assert sleeps.delays == [7.0, 120.0, 2.0]
    assert [r.status for r in hub.requests if r.kind == "resolve"] == [429, 503, 500, 302]


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = dt.datetime(2015, 10, 21, 7, 28, 0, tzinfo=dt.UTC)
    assert retry_after_seconds("12") == 12.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:30 GMT", now=now) == 30.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:27:00 GMT", now=now) == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


async def test_failures_are_told_in_words_not_internal_names(
    hub: LoopbackHub, tiny_repo: HubRepo, make_authority: Callable[..., AssetAuthority]
) -> None:
    hub.status(Q4, 500, times=None)
    message = await _download_error(make_authority, retry=RetryPolicy(attempts=1))
    assert message == (
        f"{Q4}: giving up after 2 failed attempts in a row at byte 0 of {SIZE}: the hub "
        "answered HTTP 500 Internal Server Error. Nothing was received, so nothing was kept"
    )
    assert "_Retry" not in message


async def test_a_redirect_loop_is_a_download_error_naming_the_url(
    hub: LoopbackHub, tiny_repo: HubRepo, make_authority: Callable[..., AssetAuthority]
) -> None:
    hub.redirect_loop(Q4)
    events: list[AssetEvent] = []
    async with make_authority() as assets:
        with pytest.raises(DownloadError) as err:
            async with assets.open_pull(REF) as stream:
                events.extend([event async for event in stream])
    url = f"{hub.url}/{TINY}/resolve/main/{Q4}"
    assert str(err.value) == (
        f"{Q4}: the hub redirected more than 20 times from {url} (a redirect loop); "
        "check HF_ENDPOINT and any proxy in between"
    )
    assert isinstance(err.value, GeniusError)
    assert err.value.http_status == 502
    assert events[-1] == AssetFailed(reference=REF, message=str(err.value))
    assert hub.request_count(kind="resolve") == 21  # not retried


def authority_on(tmp_path: Path) -> Callable[..., AssetAuthority]:
    def make(environ: dict[str, str] | None = None, **options: Any) -> AssetAuthority:
        return AssetAuthority(
            home=tmp_path / "home", cache=tmp_path / "cache", environ=environ or {}, **options
        )

    return make


def test_settings_come_from_arguments_then_the_environment(tmp_path: Path) -> None:
    make_authority = authority_on(tmp_path)
    env = {"GENIUS_STALL_TIMEOUT": "12.5", "GENIUS_MIN_RATE": "0", "GENIUS_ATTEMPT_DEADLINE": "90"}
    assert make_authority().limits == TransferLimits()
    assert make_authority(environ=env).limits == TransferLimits(
        stall_timeout=12.5, min_rate=0, attempt_deadline=90
    )
    mixed = make_authority(environ=env, stall_timeout=3, attempt_deadline=None)
    assert mixed.limits == TransferLimits(stall_timeout=3, min_rate=0, attempt_deadline=90)


@pytest.mark.parametrize(
    ("env", "options", "message"),
    [
        ({"GENIUS_STALL_TIMEOUT": "soon"}, {}, "GENIUS_STALL_TIMEOUT='soon' is not a number"),
        (
            {"GENIUS_MIN_RATE": "-1"},
            {},
            r"min_rate must be 0 or more bytes per second, got -1.0 \(from GENIUS_MIN_RATE\)",
        ),
        ({}, {"stall_timeout": 0}, r"stall_timeout must be a positive number of seconds, got 0$"),
        ({}, {"attempt_deadline": float("inf")}, "attempt_deadline must be a positive number"),
    ],
)
def test_bad_settings_are_config_errors_naming_them(
    tmp_path: Path, env: dict[str, str], options: dict[str, float], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        authority_on(tmp_path)(environ=env, **options)


@pytest.mark.virtual_time
async def test_a_slow_listener_is_not_taken_for_a_stalled_hub(
    hub: LoopbackHub, tiny_repo: HubRepo, make_authority: Callable[..., AssetAuthority]
) -> None:
    """Time spent in the progress callback (a client not reading) is not the hub's."""
    waited = 0

    async def slow(event: AssetEvent) -> None:
        nonlocal waited
        if waited < 3:
            waited += 1
            await anyio.sleep(100)  # longer than the stall timeout, three times

    options = {"stall_timeout": 10, "progress_bytes": 1, "progress_interval": 0}
    async with make_authority(**options) as assets:
        model = await assets.ensure_model(REF, progress=slow)
    assert model.path.stat().st_size == SIZE
    assert waited == 3
    assert len(hub.body_requests(Q4)) == 1  # no stall, no retry
