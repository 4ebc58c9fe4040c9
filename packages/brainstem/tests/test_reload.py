"""Other load options (a context size) wait for the requests running on the model, then reload it.

Ollama's scheduler does the same: a request that needs the model loaded differently waits for
the running ones to finish; nothing queued behind it starts on the old load meanwhile.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from rusty_genius_core import Content, LoadModel, LoadOptions, ModelLoaded, ProcessStart
from rusty_genius_stem import Orchestrator
from rusty_genius_testhub.requests import infer

if TYPE_CHECKING:
    from conftest import FakeAssets, Lab


@pytest.mark.virtual_time
async def test_a_context_size_change_waits_for_the_running_requests_then_reloads(
    lab: Lab, assets: FakeAssets, run_stem: object
) -> None:
    stem = Orchestrator(assets, engine_factory=lab.factory(token_delay=1.0), parallelism=2)
    async with run_stem(stem) as h:  # type: ignore[operator]
        await h.send("a", infer("one two three four five six"))
        await h.send("b", infer("seven eight nine ten eleven twelve"))
        await h.wait_body("b", Content)  # both run, in the model's two slots
        await h.send("reload", LoadModel(model="alpha", options=LoadOptions(context_size=256)))
        await h.send("after", infer("thirteen fourteen"))
        assert isinstance(await h.wait_final("reload"), ModelLoaded)
        await h.wait_final("after")
    order = [(o.request_id, type(o.body).__name__) for o in h.outputs]
    reloaded = order.index(("reload", "ModelLoaded"))
    assert order.index(("a", "Complete")) < reloaded  # the running requests ended first,
    assert order.index(("b", "Complete")) < reloaded  # untouched by the reload
    assert all(rid != "after" for rid, _ in order[:reloaded])  # nothing overtook it
    assert h.bodies("after")[0] == ProcessStart(model="alpha", cold=False)  # the load's own
    assert [(w, n) for _, w, n in lab.log.events] == [
        ("load", "alpha"),
        ("unload", "alpha"),
        ("load", "alpha"),
        ("unload", "alpha"),  # shutdown
    ]
    assert len(lab.engines) == 2
