"""Aliases over one base file with LoRA adapters: one load, each request its own adapters."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from rusty_genius_core import Adapter, Content, ProcessStart, Unload
from rusty_genius_stem import Orchestrator
from rusty_genius_testhub.requests import finish, infer

from .conftest import spec_for

if TYPE_CHECKING:
    from .conftest import FakeAssets, Harness, Lab

ROUTER = Adapter(path="/srv/adapters/router.gguf")
TONE = Adapter(repo="acme/tone-lora", filename="tone-F16.gguf", scale=0.5)


def with_aliases(assets: FakeAssets) -> None:
    base = spec_for("base")
    assets.known["base"] = base
    assets.known["router"] = attrs.evolve(base, name="router", adapters=(ROUTER,))
    assets.known["tone"] = attrs.evolve(base, name="tone", adapters=(ROUTER, TONE))
    assets.known["other"] = spec_for("other")


def text(h: Harness, request_id: str) -> str:
    return "".join(b.text for b in h.bodies(request_id) if isinstance(b, Content))


async def test_aliases_over_one_base_share_one_load(lab: Lab, assets: FakeAssets, run_stem) -> None:
    with_aliases(assets)
    async with run_stem(Orchestrator(assets, engine_factory=lab.factory())) as h:
        for rid, model in (("r", "router"), ("b", "base"), ("t", "tone"), ("r2", "router")):
            assert finish(await h.request(rid, infer("hi", model=model))).value == "stop"
        assert text(h, "b") == "hi"
        assert text(h, "r") == text(h, "r2") == "[adapters: router] hi"
        assert text(h, "t") == "[adapters: router, tone-F16*0.5] hi"
        starts = [
            b for rid in ("r", "b", "t") for b in h.bodies(rid) if isinstance(b, ProcessStart)
        ]
        assert [s.model for s in starts] == ["router", "base", "tone"]  # each its own name
        assert [s.cold for s in starts] == [True, False, False]
        assert lab.log.created == 1  # one engine, loaded once, for all three aliases
        assert lab.log.loaded == ["router"]
        assert finish(await h.request("o", infer("hi", model="other"))).value == "stop"
        assert lab.log.created == 2  # another base file: its own load
        assert text(h, "o") == "hi"


async def test_unloading_an_alias_unloads_the_shared_base(
    lab: Lab, assets: FakeAssets, run_stem
) -> None:
    with_aliases(assets)
    async with run_stem(Orchestrator(assets, engine_factory=lab.factory())) as h:
        await h.request("b", infer("hi", model="base"))
        await h.request("r", infer("hi", model="router"))
        assert lab.log.created == 1
        await h.request("u", Unload(model="router"))
        assert finish(await h.request("b2", infer("hi", model="base"))).value == "stop"
        assert lab.log.created == 2  # loaded again after the unload


async def test_concurrent_requests_of_two_aliases_each_get_their_adapters(
    lab: Lab, assets: FakeAssets, run_stem
) -> None:
    with_aliases(assets)
    async with run_stem(Orchestrator(assets, engine_factory=lab.factory(token_delay=0.01))) as h:
        for rid, model in (("r", "router"), ("b", "base"), ("t", "tone")):
            await h.send(rid, infer("one two three", model=model))
        for rid in ("r", "b", "t"):
            assert finish(await h.wait_final(rid)).value == "stop"
        assert text(h, "r") == "[adapters: router] one two three"
        assert text(h, "b") == "one two three"
        assert text(h, "t") == "[adapters: router, tone-F16*0.5] one two three"
        assert lab.log.created == 1
