"""``AssetAuthority.find_local``: is this model downloaded? Answered without the network."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from facecrab import AssetAuthority, LocalModel, ModelNotFoundError
from rusty_genius_core import ManifestError

if TYPE_CHECKING:
    from collections.abc import Callable

    from rusty_genius_testhub import HubRepo, LoopbackHub

TINY = "acme/tiny-GGUF"
REF = f"{TINY}:Q4_K_M"
SPLIT_REF = f"{TINY}:F16"
CLOSED = "http://127.0.0.1:9"  # nothing listens: any network use would fail


async def test_a_downloaded_model_is_found_without_the_network_or_async_with(
    hub: LoopbackHub, tiny_repo: HubRepo, make_authority: Callable[..., AssetAuthority]
) -> None:
    async with make_authority() as assets:
        pulled = await assets.ensure_model(REF)
    requests = len(hub.requests)

    found = await make_authority(endpoint=CLOSED).find_local(REF)

    assert isinstance(found, LocalModel)
    assert found == LocalModel(spec=pulled.spec, path=pulled.path, cached=True, parts=pulled.parts)
    assert len(hub.requests) == requests


async def test_every_part_of_a_split_model_is_reported(
    tiny_repo: HubRepo, make_authority: Callable[..., AssetAuthority]
) -> None:
    async with make_authority() as assets:
        pulled = await assets.ensure_model(SPLIT_REF)
    found = await make_authority(endpoint=CLOSED).find_local(SPLIT_REF)
    assert found is not None
    assert len(found.parts) == 3
    assert found.parts == pulled.parts


async def test_a_model_never_downloaded_is_none_with_the_hub_untouched(
    hub: LoopbackHub, tiny_repo: HubRepo, make_authority: Callable[..., AssetAuthority]
) -> None:
    assets = make_authority()
    assert await assets.find_local(REF) is None
    assert await assets.find_local("smollm2-135m-instruct") is None
    assert hub.requests == []


async def test_a_recorded_model_whose_file_changed_size_is_not_local(
    hub: LoopbackHub, tiny_repo: HubRepo, make_authority: Callable[..., AssetAuthority]
) -> None:
    async with make_authority() as assets:
        pulled = await assets.ensure_model(REF)
        other = await assets.ensure_model(f"{TINY}:Q8_0")
    with pulled.path.open("r+b") as f:
        f.truncate(pulled.path.stat().st_size - 1)
    other.path.unlink()

    assets = make_authority(endpoint=CLOSED)
    assert await assets.find_local(REF) is None
    assert await assets.find_local(f"{TINY}:Q8_0") is None


async def test_a_bad_reference_raises_instead_of_answering_none(
    make_authority: Callable[..., AssetAuthority],
) -> None:
    assets = make_authority(endpoint=CLOSED)
    with pytest.raises(ManifestError):
        await assets.find_local("org/repo:")
    with pytest.raises(ModelNotFoundError, match="no-such-alias"):
        await assets.find_local("no-such-alias")
