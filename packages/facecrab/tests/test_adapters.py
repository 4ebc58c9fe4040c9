"""LoRA adapters of a manifest entry: fetched, verified and recorded like model files."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import anyio
import pytest

from rusty_genius_core import (
    Adapter,
    AdapterFile,
    AssetComplete,
    AssetEvent,
    AssetStarted,
    ManifestError,
)
from rusty_genius_testhub import fake_gguf

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from facecrab import AssetAuthority
    from rusty_genius_testhub import HubRepo, LoopbackHub

LORA_REPO = "acme/tiny-lora"
LORA_FILE = "router-F16.gguf"
LORA = fake_gguf("router-lora", 40_000)
TONE = fake_gguf("tone-lora", 1234)
CLOSED = "http://127.0.0.1:9"


def write_manifest(home: Path, local: Path, *, local_sha: str | None = None) -> None:
    home.mkdir(parents=True, exist_ok=True)
    pin = f'sha256 = "{local_sha}"\n' if local_sha else ""
    (home / "manifest.toml").write_text(
        f"""
[models.tiny-router]
repo = "acme/tiny-GGUF"
quantization = "Q4_K_M"

[[models.tiny-router.adapters]]
repo = "{LORA_REPO}"
filename = "{LORA_FILE}"
scale = 0.5

[[models.tiny-router.adapters]]
path = "{local}"
name = "tone"
{pin}""",
        "utf-8",
    )


@pytest.fixture
def lora_repo(hub: LoopbackHub, tiny_repo: HubRepo) -> HubRepo:
    return hub.add_repo(LORA_REPO, {LORA_FILE: LORA})


@pytest.fixture
def local_adapter(tmp_path: Path) -> Path:
    path = tmp_path / "adapters" / "tone.gguf"
    path.parent.mkdir()
    path.write_bytes(TONE)
    return path


async def test_an_entry_s_adapters_are_downloaded_verified_and_recorded(
    hub: LoopbackHub,
    lora_repo: HubRepo,
    local_adapter: Path,
    tmp_path: Path,
    make_authority: Callable[..., AssetAuthority],
) -> None:
    write_manifest(tmp_path / "home", local_adapter)
    events: list[AssetEvent] = []

    async def record(event: AssetEvent) -> None:
        events.append(event)

    async with make_authority() as assets:
        model = await assets.ensure_model("tiny-router", progress=record)
        listed = await assets.list_models()

    hub_file, local_file = model.adapters
    assert hub_file == AdapterFile(name="router-F16", path=hub_file.path, scale=0.5)
    assert await anyio.Path(hub_file.path).read_bytes() == LORA
    assert local_file == AdapterFile(name="tone", path=local_adapter, scale=1.0)
    assert model.spec.adapters == (
        Adapter(repo=LORA_REPO, filename=LORA_FILE, scale=0.5),
        Adapter(path=str(local_adapter), name="tone"),
    )
    assert model.path.name == "tiny.Q4_K_M.gguf"
    started = [e.filename for e in events if isinstance(e, AssetStarted)]
    assert started == [LORA_FILE, "tiny.Q4_K_M.gguf"]  # the adapter first
    completes = [e for e in events if isinstance(e, AssetComplete)]
    assert [c.reference for c in completes] == ["tiny-router"]  # one end, the model's
    assert events[-1] == completes[0]
    recorded = {(e.repo, e.filename): e for e in listed}
    adapter_entry = recorded[LORA_REPO, LORA_FILE]
    assert adapter_entry.sha256 == hashlib.sha256(LORA).hexdigest()
    assert adapter_entry.path == hub_file.path

    # A second time: everything from the registry, nothing from the network.
    requests = len(hub.requests)
    async with make_authority(endpoint=CLOSED) as assets:
        again = await assets.ensure_model("tiny-router")
    assert again.adapters == model.adapters
    found = await make_authority(endpoint=CLOSED).find_local("tiny-router")
    assert found is not None
    assert found.adapters == model.adapters
    assert found.spec.adapters == model.spec.adapters
    spec = await make_authority(endpoint=CLOSED).resolve("tiny-router", network=False)
    assert spec.adapters == model.spec.adapters
    assert len(hub.requests) == requests


async def test_a_model_whose_adapter_is_not_downloaded_is_not_local(
    lora_repo: HubRepo,
    local_adapter: Path,
    tmp_path: Path,
    make_authority: Callable[..., AssetAuthority],
) -> None:
    async with make_authority() as assets:
        await assets.ensure_model("acme/tiny-GGUF:Q4_K_M")  # the base alone
    write_manifest(tmp_path / "home", local_adapter)
    assert await make_authority(endpoint=CLOSED).find_local("tiny-router") is None


async def test_a_missing_hub_adapter_fails_naming_the_file(
    hub: LoopbackHub,
    tiny_repo: HubRepo,
    local_adapter: Path,
    tmp_path: Path,
    make_authority: Callable[..., AssetAuthority],
) -> None:
    hub.add_repo(LORA_REPO, {"other.gguf": LORA})
    write_manifest(tmp_path / "home", local_adapter)
    async with make_authority() as assets:
        with pytest.raises(Exception, match=f"has no file '{LORA_FILE}'") as err:
            await assets.ensure_model("tiny-router")
    assert getattr(err.value, "user_fault", None) is not None


async def test_a_local_adapter_must_exist_and_match_its_pin(
    lora_repo: HubRepo,
    local_adapter: Path,
    tmp_path: Path,
    make_authority: Callable[..., AssetAuthority],
) -> None:
    write_manifest(tmp_path / "home", local_adapter, local_sha="0" * 64)
    async with make_authority() as assets:
        with pytest.raises(ManifestError, match=r"adapter 'tone': .*tone\.gguf' has sha256"):
            await assets.ensure_model("tiny-router")
    write_manifest(tmp_path / "home", tmp_path / "nowhere.gguf")
    async with make_authority() as assets:
        with pytest.raises(ManifestError, match=r"adapter 'tone': no file at .*nowhere\.gguf"):
            await assets.ensure_model("tiny-router")
    good = hashlib.sha256(TONE).hexdigest()
    write_manifest(tmp_path / "home", local_adapter, local_sha=good)
    async with make_authority() as assets:
        model = await assets.ensure_model("tiny-router")
    assert model.adapters[1].path == local_adapter
