"""The package exports exactly its public names, sorted (as httpx and anyio check theirs)."""

from __future__ import annotations

import rusty_genius_stem
from rusty_genius_testhub.exports import (
    export_problems,
    private_module_names,
)

# Shared between the package's own modules, not exported: the engine runs, the scheduler
# state machine (its states, records and actions) and the session that performs it.
INTERNAL = {
    "AdapterRouter",
    "EngineRun",
    "serve_embed",
    *("Instance", "Job", "cancelled_body", "cancelled_complete", "error_report"),
    *("OutputSink", "SessionCore", "Session", "REMEMBERED_OPTIONS", "Scheduler"),
    *("Send", "stream_events", "fetch_weights", "weights_size", "make_config", "load_options"),
    *("Action", "EndCancelled", "Fail", "Load", "Measure", "Model", "ModelState", "Reject"),
    *("Request", "RequestKind", "RequestState", "Run", "SetTimer", "Stop", "Unload"),
}


def test_all_is_sorted_and_complete() -> None:
    exported = rusty_genius_stem.__all__
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), n))
    public = {
        name
        for name, value in vars(rusty_genius_stem).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "").startswith("rusty_genius_stem")
    }
    assert public <= set(exported)
    for name in exported:
        assert hasattr(rusty_genius_stem, name), name
    assert len(set(exported)) == len(exported)


def test_every_private_declaration_is_exported() -> None:
    assert not export_problems(rusty_genius_stem, internal=INTERNAL)


def test_public_classes_and_functions_name_the_package() -> None:
    assert not private_module_names([rusty_genius_stem], {"rusty_genius_stem"})
    assert rusty_genius_stem.Orchestrator.__module__ == "rusty_genius_stem"
