"""The must-show cases, with the real SmolLM2 GGUF (98 MB) served by the loopback hub."""

from __future__ import annotations

import sys
import tomllib
from typing import TYPE_CHECKING

import anyio

from facecrab import AssetAuthority, LocalModel
from rusty_genius_core import AssetComplete, AssetEvent, AssetProgress, AssetStarted
from rusty_genius_testhub import TEST_MODELS, EventLog, sha256_of

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from rusty_genius_testhub import HubRepo, LoopbackHub

MODEL = TEST_MODELS["smollm2"]
REF = f"{MODEL.repo}:Q4_1"
MIRROR = "mirror/SmolLM2-135M-Instruct-GGUF"  # no manifest entry: resolved from the tree


async def test_pull_by_repo_and_quant_then_serve_offline(
    hub: LoopbackHub, smollm2_repo: HubRepo, make_authority: Callable[..., AssetAuthority]
) -> None:
    events = EventLog[AssetEvent]()
    async with make_authority() as assets:
        model = await assets.ensure_model(REF, progress=events)
        entries = await assets.list_models()

    served = smollm2_repo.files[MODEL.filename]
    assert not model.cached
    assert await anyio.to_thread.run_sync(sha256_of, model.path) == served.sha256 == MODEL.sha256
    assert model.path.stat().st_size == MODEL.size
    assert model.parts == (model.path,)
    assert (model.spec.repo, model.spec.quantization, model.spec.sha256) == (
        MODEL.repo,
        "Q4_1",
        MODEL.sha256,
    )
    assert not model.path.with_name(model.path.name + ".partial").exists()
    [entry] = entries
    assert (entry.reference, entry.filename, entry.quantization) == (REF, MODEL.filename, "Q4_1")
    assert (entry.sha256, entry.size, entry.path) == (MODEL.sha256, MODEL.size, model.path)
    assert entry.commit == smollm2_repo.commit
    assert len(hub.body_requests(MODEL.filename)) == 1

    # events: started, progress rising to done == total, complete
    assert isinstance(events[0], AssetStarted)
    assert (events[0].filename, events[0].total) == (MODEL.filename, MODEL.size)
    progress_done = [e.done for e in events if isinstance(e, AssetProgress)]
    assert progress_done == sorted(progress_done)
    assert progress_done[-1] == MODEL.size
    assert len(progress_done) >= 2
    assert events[-1] == AssetComplete(reference=REF, path=str(model.path), cached=False)
    assert len(events) == len(progress_done) + 2

    # a cache hit costs no request at all, also with the network off
    before = len(hub.requests)
    async with make_authority(offline=True) as offline:
        again = await offline.ensure_model(REF)
        by_alias = await offline.ensure_model("smollm2-135m-instruct")
    async with make_authority() as online:
        third = await online.ensure_model(REF)
    assert again == LocalModel(spec=again.spec, path=model.path, cached=True, parts=(model.path,))
    assert by_alias.path == third.path == model.path
    assert by_alias.spec.name == "smollm2-135m-instruct"
    assert third.cached
    assert len(hub.requests) == before


async def test_cut_at_half_resumes_with_only_the_remainder(
    hub: LoopbackHub, smollm2_gguf: Path, make_authority: Callable[..., AssetAuthority], sleeps
) -> None:
    # a repo id the manifest does not pin, so sha256 and size come from the tree
    mirror = hub.add_repo(MIRROR, {MODEL.filename: smollm2_gguf})
    half = MODEL.size // 2
    hub.cut_after(MODEL.filename, half)
    async with make_authority() as assets:
        model = await assets.ensure_model(f"{MIRROR}:q4_1")

    assert await anyio.to_thread.run_sync(sha256_of, model.path) == MODEL.sha256
    key = f"{MIRROR}/{MODEL.filename}"
    first, second = hub.body_requests(key)
    assert (first.status, first.body_bytes, first.completed) == (200, half, False)
    assert (second.status, second.range, second.body_bytes) == (
        206,
        f"bytes={half}-",
        MODEL.size - half,
    )
    assert hub.bytes_served(key) == MODEL.size  # nothing fetched twice
    assert hub.ranges_seen(key) == [None, f"bytes={half}-"]
    assert hub.request_count("GET", kind="tree") == 1  # sha256 and size came from the tree
    assert sleeps.delays == [0.5]  # one backoff, injected: no real sleep
    # the resume asked for the commit the first answer named, not the branch
    resolves = [r.path for r in hub.requests if r.kind == "resolve"]
    assert resolves == [
        f"/{MIRROR}/resolve/main/{MODEL.filename}",
        f"/{MIRROR}/resolve/{mirror.commit}/{MODEL.filename}",
    ]


async def test_twenty_concurrent_callers_share_one_download(
    hub: LoopbackHub, smollm2_gguf: Path, make_authority: Callable[..., AssetAuthority]
) -> None:
    hub.add_repo(MIRROR, {MODEL.filename: smollm2_gguf})
    release = anyio.Event()
    stall = hub.stall(MODEL.filename, 4 << 20, release)
    results: dict[int, LocalModel] = {}
    seen: dict[int, list[AssetEvent]] = {i: [] for i in range(20)}

    async with make_authority() as assets, anyio.create_task_group() as tg:
        for i in range(20):

            async def pull(i: int = i) -> None:
                async def progress(event: AssetEvent) -> None:
                    seen[i].append(event)

                results[i] = await assets.ensure_model(f"{MIRROR}:Q4_1", progress=progress)

            tg.start_soon(pull)
        await stall.wait_reached()
        await hub.wait_for(lambda h: sum(r.completed for r in h.requests if r.kind == "tree") == 20)
        release.set()

    assert len(results) == 20
    assert {r.path for r in results.values()} == {results[0].path}
    assert sum(not r.cached for r in results.values()) == 1
    assert len(hub.body_requests(MODEL.filename)) == 1
    assert hub.bytes_served(MODEL.filename) == MODEL.size
    for events in seen.values():  # every caller ends with its own AssetComplete
        assert isinstance(events[-1], AssetComplete)
        done = [e.done for e in events if isinstance(e, AssetProgress)]
        assert done == sorted(done)
    watchers = [i for i, ev in seen.items() if any(isinstance(e, AssetProgress) for e in ev)]
    assert len(watchers) > 1  # waiting callers saw the owner's progress
    assert await anyio.to_thread.run_sync(sha256_of, results[0].path) == MODEL.sha256


PULL_SCRIPT = """
import sys, anyio
from facecrab import AssetAuthority

async def main() -> None:
    async with AssetAuthority() as assets:  # GENIUS_HOME, GENIUS_CACHE, HF_ENDPOINT from env
        model = await assets.ensure_model(sys.argv[1])
    print(model.path, model.cached)

anyio.run(main)
"""


async def test_two_processes_pull_at_once(
    hub: LoopbackHub, smollm2_gguf: Path, tmp_path: Path, child_environment: dict[str, str]
) -> None:
    hub.add_repo(MIRROR, {MODEL.filename: smollm2_gguf})
    release = anyio.Event()
    stall = hub.stall(MODEL.filename, 4 << 20, release)
    outputs: list[str] = []

    async def run() -> None:
        done = await anyio.run_process(
            [sys.executable, "-c", PULL_SCRIPT, f"{MIRROR}:Q4_1"],
            env=child_environment,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode()
        outputs.append(done.stdout.decode().strip())

    with anyio.fail_after(120):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            tg.start_soon(run)
            await stall.wait_reached()
            # both processes resolved the model before the first download may finish
            await hub.wait_for(
                lambda h: sum(r.completed for r in h.requests if r.kind == "tree") == 2
            )
            release.set()

    path = tmp_path / "cache" / MIRROR / MODEL.filename
    assert sorted(outputs) == [f"{path} False", f"{path} True"]
    assert len(hub.body_requests(MODEL.filename)) == 1
    registry = tomllib.loads((tmp_path / "home" / "registry.toml").read_text())
    [entry] = registry["models"]
    assert (entry["sha256"], entry["size"], entry["path"]) == (MODEL.sha256, MODEL.size, str(path))
    assert not path.with_name(path.name + ".partial").exists()
    assert await anyio.to_thread.run_sync(sha256_of, path) == MODEL.sha256
