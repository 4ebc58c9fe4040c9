"""AssetAuthority's public behaviour: errors that list alternatives, the environment,
the token, the streaming pull, resolve and remove."""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import TYPE_CHECKING

import anyio
import anyio.lowlevel
import pytest

from facecrab import (
    AmbiguousQuantizationError,
    AssetAuthority,
    ModelNotFoundError,
    OfflineError,
    QuantizationNotFoundError,
    RepoNotFoundError,
    RevisionNotFoundError,
)
from rusty_genius_core import (
    AssetComplete,
    AssetError,
    AssetEvent,
    AssetFailed,
    AssetProgress,
    AssetStarted,
    ManifestError,
)
from rusty_genius_testhub import EventLog

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from rusty_genius_testhub import HubRepo, LoopbackHub

TINY = "acme/tiny-GGUF"
Q4 = "tiny.Q4_K_M.gguf"
REF = f"{TINY}:Q4_K_M"
SMOL = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"
SECRET = "hf_SeCrEt0123456789abcdefTOKEN"


async def test_unknown_repo_lists_the_known_models(
    hub: LoopbackHub, make_authority: Callable[..., AssetAuthority]
) -> None:
    failures = EventLog[AssetEvent]()
    async with make_authority() as assets:
        with pytest.raises(RepoNotFoundError) as err:
            await assets.ensure_model("Qwen/Qwen2.5-1.5B-Instruct-GUFF:Q4_K_M", progress=failures)
    message = str(err.value)
    assert "Qwen/Qwen2.5-1.5B-Instruct-GUFF" in message
    assert "Did you mean Qwen/Qwen2.5-1.5B-Instruct-GGUF" in message
    assert "qwen-2.5-3b-instruct (Qwen/Qwen2.5-3B-Instruct-GGUF)" in message
    assert err.value.alternatives[0] == "Qwen/Qwen2.5-1.5B-Instruct-GGUF"
    assert (
        "smollm2-135m-instruct (HuggingFaceTB/SmolLM2-135M-Instruct-GGUF)" in err.value.alternatives
    )
    assert failures == [
        AssetFailed(reference="Qwen/Qwen2.5-1.5B-Instruct-GUFF:Q4_K_M", message=message)
    ]
    assert hub.request_count(kind="tree") == 1


async def test_unknown_quantization_lists_what_exists(
    hub: LoopbackHub, smollm2_repo: HubRepo, make_authority: Callable[..., AssetAuthority]
) -> None:
    async with make_authority() as assets:
        with pytest.raises(QuantizationNotFoundError) as err:
            await assets.ensure_model(f"{SMOL}:Q5_K_M")
    assert err.value.alternatives == ("F16", "Q4_1", "Q8_0")
    assert f"{SMOL} has no GGUF for quantization Q5_K_M; available: F16, Q4_1, Q8_0" in str(
        err.value
    )
    assert hub.body_requests("SmolLM2-135M-Instruct.Q4_1.gguf") == []


async def test_fake_quant_of_the_smollm2_repo_is_chosen_from_the_tree(
    hub: LoopbackHub, smollm2_repo: HubRepo, make_authority: Callable[..., AssetAuthority]
) -> None:
    async with make_authority() as assets:
        model = await assets.ensure_model(f"{SMOL}:q8_0")
    assert model.path.name == "SmolLM2-135M-Instruct.Q8_0.gguf"
    assert model.spec.sha256 == smollm2_repo.files["SmolLM2-135M-Instruct.Q8_0.gguf"].sha256


async def test_unknown_alias_lists_aliases(make_authority: Callable[..., AssetAuthority]) -> None:
    async with make_authority() as assets:
        with pytest.raises(
            ModelNotFoundError, match=r"Did you mean qwen-2\.5-1\.5b-instruct"
        ) as err:
            await assets.ensure_model("qwen-2.5-1.5b-instruc")
    assert "gemma-3-270m (ggml-org/gemma-3-270m-GGUF)" in err.value.alternatives


async def test_malformed_reference_is_a_manifest_error(
    make_authority: Callable[..., AssetAuthority],
) -> None:
    events = EventLog[AssetEvent]()
    async with make_authority() as assets:
        with pytest.raises(ManifestError):
            await assets.ensure_model("org/repo:", progress=events)
    assert [type(e) for e in events] == [AssetFailed]


async def test_ambiguous_quantization_names_the_candidates(
    hub: LoopbackHub, make_authority: Callable[..., AssetAuthority]
) -> None:
    hub.add_repo("acme/two-GGUF", {"a.Q4_K_M.gguf": b"GGUF1", "b-Q4_K_M.gguf": b"GGUF2"})
    async with make_authority() as assets:
        with pytest.raises(AmbiguousQuantizationError, match="pin one with 'filename'") as err:
            await assets.ensure_model("acme/two-GGUF")  # default quantization: Q4_K_M
    assert err.value.alternatives == ("a.Q4_K_M.gguf", "b-Q4_K_M.gguf")


async def test_a_user_manifest_pins_file_and_revision(
    hub: LoopbackHub,
    tiny_repo: HubRepo,
    make_authority: Callable[..., AssetAuthority],
    tmp_path: Path,
) -> None:
    hub.add_repo(TINY, {"tiny.Q8_0.gguf": b"GGUF v2 of q8"}, revision="v2")
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "manifest.toml").write_text(
        '[models.tiny]\nrepo = "acme/tiny-GGUF"\nquantization = "Q8_0"\nrevision = "v2"\n'
        '[models.gone]\nrepo = "acme/tiny-GGUF"\nrevision = "v9"\n'
    )
    async with make_authority() as assets:
        model = await assets.ensure_model("tiny")
        with pytest.raises(RevisionNotFoundError, match="acme/tiny-GGUF has no revision 'v9'"):
            await assets.ensure_model("gone")
        assert "tiny" in (await assets.manifest()).models
    assert model.path.read_bytes() == b"GGUF v2 of q8"
    assert model.spec.revision == "v2"


async def test_environment_is_read_once_at_construction(
    hub: LoopbackHub, tiny_repo: HubRepo, tmp_path: Path, sleeps
) -> None:
    environ = {
        "HF_ENDPOINT": hub.url,
        "HF_TOKEN": SECRET,
        "GENIUS_HOME": str(tmp_path / "h"),
        "GENIUS_CACHE": str(tmp_path / "c"),
    }
    async with AssetAuthority(environ=environ, sleep=sleeps) as assets:
        environ["HF_ENDPOINT"] = "http://127.0.0.1:9"  # too late: already read
        model = await assets.ensure_model(REF)
    assert model.path == tmp_path / "c" / TINY / Q4
    assert (tmp_path / "h" / "registry.toml").is_file()
    assert all(r.headers.get("authorization") == f"Bearer {SECRET}" for r in hub.requests)

    offline = AssetAuthority(environ={**environ, "HF_HUB_OFFLINE": "1"})
    assert offline.offline
    async with offline:
        assert (await offline.ensure_model(REF)).cached
        with pytest.raises(OfflineError, match="not in the registry"):
            await offline.ensure_model(f"{TINY}:Q8_0")
    assert hub.request_count(file="tiny.Q8_0.gguf") == 0


async def test_the_token_is_sent_but_never_written_or_logged(
    hub: LoopbackHub,
    tiny_repo: HubRepo,
    make_authority: Callable[..., AssetAuthority],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    hub.status(f"{TINY}/tiny.Q8_0.gguf", 500, times=None)
    texts: list[str] = []

    async def progress(event: AssetEvent) -> None:
        texts.append(repr(event))

    from facecrab import RetryPolicy

    async with make_authority(token=SECRET, retry=RetryPolicy(attempts=1)) as assets:
        texts.append(repr(assets))
        await assets.ensure_model(REF, progress=progress)
        with pytest.raises(AssetError) as err:
            await assets.ensure_model(f"{TINY}:Q8_0", progress=progress)
        texts.append(str(err.value))
        texts.append(repr(await assets.list_models()))
    sent = {r.headers.get("authorization") for r in hub.requests if r.kind != "cdn"}
    assert sent == {f"Bearer {SECRET}"}

    def written() -> list[str]:
        return [
            p.read_text(errors="replace")
            for p in tmp_path.rglob("*")
            if p.is_file() and p.suffix != ".gguf"
        ]

    files = await anyio.to_thread.run_sync(written)
    assert files  # the registry at least
    assert not any(SECRET in text for text in files)
    assert caplog.records
    assert SECRET not in caplog.text
    assert not any(SECRET in t for t in texts)


async def test_no_token_no_authorization_header(
    hub: LoopbackHub, tiny_repo: HubRepo, make_authority: Callable[..., AssetAuthority]
) -> None:
    async with make_authority(token=False) as assets:
        await assets.ensure_model(REF)
        assert not assets.has_token
    assert all("authorization" not in r.headers for r in hub.requests)


async def test_open_pull_streams_events_until_complete(
    hub: LoopbackHub, tiny_repo: HubRepo, make_authority: Callable[..., AssetAuthority]
) -> None:
    async with make_authority(progress_bytes=1, progress_interval=0) as assets:
        async with assets.open_pull(REF) as events:
            received = [event async for event in events]
        async with assets.open_pull(REF) as events:
            cached = [event async for event in events]
    size = len(tiny_repo.files[Q4].source)  # type: ignore[arg-type]
    assert received[0] == AssetStarted(reference=REF, filename=Q4, total=size)
    done = [e.done for e in received[1:-1] if isinstance(e, AssetProgress)]
    assert len(done) == len(received) - 2 >= 3  # 2.5 MB read at most 1 MiB at a time
    assert done == sorted(done)
    assert done[-1] == size
    assert isinstance(received[-1], AssetComplete)
    assert not received[-1].cached
    assert [type(e) for e in cached] == [AssetComplete]
    assert cached[0].cached


async def test_open_pull_raises_the_error_on_exit(
    hub: LoopbackHub, make_authority: Callable[..., AssetAuthority]
) -> None:
    seen: list[AssetEvent] = []

    async def consume(assets: AssetAuthority) -> None:
        async with assets.open_pull("acme/nothing:Q4_K_M") as events:
            seen.extend([event async for event in events])

    async with make_authority() as assets:
        with pytest.raises(RepoNotFoundError):
            await consume(assets)
    assert [type(e) for e in seen] == [AssetFailed]


async def test_leaving_open_pull_early_cancels_and_keeps_the_partial(
    hub: LoopbackHub,
    tiny_repo: HubRepo,
    make_authority: Callable[..., AssetAuthority],
    tmp_path: Path,
) -> None:
    hub.stall(Q4, 1_100_000)  # never released
    async with make_authority(progress_bytes=1, progress_interval=0) as assets:
        async with assets.open_pull(REF) as events:
            async for event in events:
                if isinstance(event, AssetProgress) and event.done == 1_100_000:
                    break
        assert await assets.list_models() == []
    partial = tmp_path / "cache" / TINY / (Q4 + ".partial")
    assert partial.stat().st_size == 1_100_000


async def test_open_pull_passes_the_body_error_through(
    hub: LoopbackHub, tiny_repo: HubRepo, make_authority: Callable[..., AssetAuthority]
) -> None:
    async def consume(assets: AssetAuthority) -> None:
        async with assets.open_pull(REF):
            raise KeyError("consumer")

    async with make_authority() as assets:
        with pytest.raises(KeyError, match="consumer"):
            await consume(assets)


async def test_resolve_uses_registry_manifest_then_network(
    hub: LoopbackHub, tiny_repo: HubRepo, make_authority: Callable[..., AssetAuthority]
) -> None:
    async with make_authority() as assets:
        pinned = await assets.resolve("smollm2-135m-instruct", network=False)
        named = await assets.resolve("qwen-2.5-1.5b-instruct", network=False)
        with pytest.raises(OfflineError, match="must be listed on the hub"):
            await assets.resolve(f"{TINY}:Q8_0", network=False)
        assert hub.requests == []
        listed = await assets.resolve(f"{TINY}:Q8_0")
        assert hub.request_count(kind="tree") == 1
        await assets.ensure_model(f"{TINY}:Q8_0")
        hub.reset_stats()
        recorded = await assets.resolve(f"{TINY}:Q8_0", network=False)
    assert (pinned.filename, pinned.size) == ("SmolLM2-135M-Instruct.Q4_1.gguf", 98_362_432)
    assert (named.filename, named.sha256) == ("qwen2.5-1.5b-instruct-q4_k_m.gguf", None)
    assert listed.sha256 == tiny_repo.files["tiny.Q8_0.gguf"].sha256 == recorded.sha256
    assert listed.size == 300_000
    assert hub.requests == []


async def test_remove_model_deletes_files_and_entry(
    hub: LoopbackHub, tiny_repo: HubRepo, make_authority: Callable[..., AssetAuthority]
) -> None:
    async with make_authority() as assets:
        kept = await assets.ensure_model(f"{TINY}:Q8_0")
        split = await assets.ensure_model(f"{TINY}:F16")
        assert await assets.remove_model(f"{TINY}:F16")
        assert not any(p.exists() for p in split.parts)
        assert not await assets.remove_model(f"{TINY}:F16")
        assert not await assets.remove_model("gemma-3-270m")
        remaining = await assets.list_models()
        again = await assets.ensure_model(f"{TINY}:F16")
    assert [e.filename for e in remaining] == ["tiny.Q8_0.gguf"]
    assert kept.path.exists()
    assert not again.cached
    assert len(hub.body_requests("F16/tiny.F16-00002-of-00003.gguf")) == 2
    assert all(p.exists() for p in again.parts)


async def test_downloads_need_the_context_manager(
    hub: LoopbackHub, tiny_repo: HubRepo, make_authority: Callable[..., AssetAuthority]
) -> None:
    assets = make_authority()
    with pytest.raises(RuntimeError, match="async with AssetAuthority"):
        await assets.ensure_model(REF)


@contextlib.asynccontextmanager
async def _a_stalled_owner(
    hub: LoopbackHub, assets: AssetAuthority
) -> AsyncIterator[tuple[anyio.abc.TaskGroup, anyio.Event]]:
    """A first caller (the owner) downloading REF, stalled mid-body until the event is set.

    Yields the task group it runs in and that event; the block ends once the owner is done.
    """
    release = anyio.Event()
    stall = hub.stall(Q4, 500_000, release)
    async with anyio.create_task_group() as tg:
        tg.start_soon(assets.ensure_model, REF)
        await stall.wait_reached()
        yield tg, release


async def test_cancelling_a_waiter_leaves_the_owner_alone(
    hub: LoopbackHub, tiny_repo: HubRepo, make_authority: Callable[..., AssetAuthority]
) -> None:
    got = EventLog[AssetEvent]()
    async with make_authority(progress_bytes=1, progress_interval=0) as assets:
        async with _a_stalled_owner(hub, assets) as (_, release):
            with anyio.move_on_after(0.2) as waiter_scope:  # the waiter gives up
                await assets.ensure_model(REF, progress=got)
            assert waiter_scope.cancelled_caught
            release.set()
        model = await assets.ensure_model(REF)
    assert model.cached
    assert len(hub.body_requests(Q4)) == 1
    assert all(isinstance(e, AssetProgress | AssetStarted) for e in got)


class _Refused(Exception):
    """A progress callback's own error (not a GeniusError: no AssetFailed is sent for it)."""


async def _joined_the_owner(assets: AssetAuthority) -> None:
    """Until a second caller waits for the download's slot (peeks at the private slots)."""
    while not any(f.lock.statistics().tasks_waiting for f in assets._flights._by_key.values()):
        await anyio.lowlevel.checkpoint()


async def test_a_waiter_whose_callback_fails_gets_its_own_error_and_the_owner_goes_on(
    hub: LoopbackHub, tiny_repo: HubRepo, make_authority: Callable[..., AssetAuthority]
) -> None:
    got: list[AssetEvent] = []

    async def refuse(event: AssetEvent) -> None:
        got.append(event)
        raise _Refused

    async with make_authority(progress_bytes=1, progress_interval=0) as assets:
        async with _a_stalled_owner(hub, assets) as (tg, release):

            async def release_once_joined() -> None:
                await _joined_the_owner(assets)
                release.set()

            tg.start_soon(release_once_joined)
            with pytest.raises(_Refused):  # itself, not in an exception group
                await assets.ensure_model(REF, progress=refuse)
        model = await assets.ensure_model(REF)
    assert model.cached
    assert len(hub.body_requests(Q4)) == 1
    assert len(got) == 1
    assert isinstance(got[0], AssetProgress)  # relayed from the owner while waiting


REGISTRY_HIT_SCRIPT = """
import sys, anyio
from facecrab import AssetAuthority

async def main():
    async with AssetAuthority() as assets:
        model = await assets.ensure_model(sys.argv[1])
    print(model.cached, "httpx" in sys.modules, "huggingface_hub" in sys.modules)

anyio.run(main)
"""


async def test_a_registry_hit_needs_neither_httpx_nor_huggingface_hub(
    hub: LoopbackHub,
    tiny_repo: HubRepo,
    make_authority: Callable[..., AssetAuthority],
    child_environment: dict[str, str],
) -> None:
    """The cold path of ``genius run``: no HTTP client, no token store, not even their imports."""
    async with make_authority() as assets:
        await assets.ensure_model(REF)
    before = len(hub.requests)
    done = await anyio.run_process(
        [sys.executable, "-c", REGISTRY_HIT_SCRIPT, REF], env=child_environment
    )
    assert done.stdout.decode().split() == ["True", "False", "False"]
    assert len(hub.requests) == before
