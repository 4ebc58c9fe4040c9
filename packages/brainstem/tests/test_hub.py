"""The whole pipeline over HTTP: facecrab's real AssetAuthority against the loopback hub.

Real sockets need real clocks, so these run on the default backends (asyncio and trio)
and never sleep: facecrab's retry backoff is replaced by a no-wait recorder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from facecrab import AssetAuthority, DownloadError, RepoNotFoundError
from rusty_genius_core import (
    AssetComplete,
    AssetError,
    AssetProgress,
    AssetStarted,
    Complete,
    ErrorReport,
    FinishReason,
    ListModels,
    LoadModel,
    ModelList,
    ModelLoaded,
    ProcessStart,
)
from rusty_genius_stem import AssetSource, Orchestrator
from rusty_genius_testhub import fake_gguf
from rusty_genius_testhub.requests import infer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from conftest import Lab
    from rusty_genius_testhub import LoopbackHub

TINY = "acme/tiny-GGUF"
TINY_REF = f"{TINY}:Q4_K_M"
TINY_FILE = "tiny.Q4_K_M.gguf"
TINY_SIZE = 700_001
OTHER_REF = "acme/other-GGUF:Q8_0"


@pytest.fixture
async def authority(
    hub: LoopbackHub, make_authority: Callable[..., AssetAuthority]
) -> AsyncIterator[AssetAuthority]:
    hub.add_repo(TINY, {TINY_FILE: fake_gguf("tiny", TINY_SIZE), "README.md": b"# tiny\n"})
    hub.add_repo("acme/other-GGUF", {"other.Q8_0.gguf": fake_gguf("other", 5000)})
    async with make_authority(progress_interval=0.0) as assets:
        yield assets


def test_asset_authority_is_an_asset_source(tmp_path: Path) -> None:
    assert isinstance(AssetAuthority(home=tmp_path, cache=tmp_path, environ={}), AssetSource)


async def test_load_model_downloads_through_the_hub_and_forwards_progress(
    authority: AssetAuthority, lab: Lab, run_stem
) -> None:
    stem = Orchestrator(authority, engine_factory=lab.factory(), fetch_assets=True)
    async with run_stem(stem) as h:
        loaded = await h.request("pull", LoadModel(model=TINY_REF))
        assert isinstance(loaded, ModelLoaded)
        assert loaded.model == TINY_REF
        events = h.bodies("pull")[:-1]
        assert events[0] == AssetStarted(reference=TINY_REF, filename=TINY_FILE, total=TINY_SIZE)
        done = [e.done for e in events if isinstance(e, AssetProgress)]
        assert done == sorted(done)
        assert done[-1] == TINY_SIZE
        complete = events[-1]
        assert isinstance(complete, AssetComplete)
        assert not complete.cached
        assert (await authority.resolve(TINY_REF, network=False)).filename == TINY_FILE

        listing = await h.request("ls", ListModels())
        assert isinstance(listing, ModelList)
        (row,) = listing.models
        (entry,) = await authority.list_models()
        assert (row.name, row.repo, row.filename, row.size) == (
            entry.reference,
            TINY,
            TINY_FILE,
            TINY_SIZE,
        )
        assert row.downloaded
        assert row.loaded
        assert row.path == str(complete.path)

        warm = await h.request("warm", infer("over the hub", TINY_REF))
        assert h.bodies("warm")[0] == ProcessStart(model=TINY_REF, cold=False)
        assert isinstance(warm, Complete)


async def test_hub_failures_fail_only_their_request(
    authority: AssetAuthority, hub: LoopbackHub, lab: Lab, run_stem
) -> None:
    hub.status(f"{TINY}/{TINY_FILE}", 500, times=None)
    stem = Orchestrator(authority, engine_factory=lab.factory(), fetch_assets=True, max_loaded=2)
    async with run_stem(stem) as h:
        await h.send("broken", infer("over the hub", TINY_REF))
        await h.send("missing", infer("over the hub", "acme/missing-GGUF:Q4_K_M"))
        await h.send("fine", infer("over the hub", OTHER_REF))
        broken = await h.wait_final("broken")
        assert isinstance(broken, ErrorReport)
        assert broken.error is DownloadError  # an AssetError
        assert issubclass(broken.error, AssetError)
        missing = await h.wait_final("missing")
        assert isinstance(missing, ErrorReport)
        assert missing.error is RepoNotFoundError
        assert issubclass(missing.error, AssetError)
        fine = await h.wait_final("fine")
        assert isinstance(fine, Complete)
        assert fine.usage.finish_reason is FinishReason.STOP
    assert [n for _, w, n in lab.log.events if w == "load"] == [OTHER_REF]


async def test_pinky_without_fetch_never_calls_the_hub(
    authority: AssetAuthority, hub: LoopbackHub, lab: Lab, run_stem
) -> None:
    async with run_stem(Orchestrator(authority, engine_factory=lab.factory())) as h:
        final = await h.request("a", infer("over the hub", TINY_REF))
        assert isinstance(final, Complete)
        assert final.usage.finish_reason is FinishReason.STOP
    assert hub.requests == []
    assert await authority.list_models() == []
