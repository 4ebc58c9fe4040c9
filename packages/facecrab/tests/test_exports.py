"""facecrab's public surface: complete, sorted, and naming ``facecrab`` as the module."""

from __future__ import annotations

import pickle

import facecrab
from rusty_genius_testhub.exports import (
    export_problems,
    private_module_names,
)

INTERNAL = {
    "READ_BYTES",
    "adapter_wanted",
    "ensure_adapters",
    "find_adapters",
    "with_adapters",
    "Flight",
    "Flights",
    "ENV_SETTINGS",
    "PartialFile",
    "StallWatch",
    "file_lock",
    "TransferLimits",
    "retry_after_seconds",
    "refuse_link",
    "hash_prefix",
    "no_progress",
    "sha256_if_size",
    "Stopped",
    "WideReadTransport",
    "list_repo_files",
    "run_stoppable",
    "split_parts",
    "toml_error_location",
    "wanted",
    "pinned",
    "delete_files",
    "files_present",
    "same_key",
    "stored_token",
    "MirrorSource",
    "fetch_from_mirrors",
    "pip_command",
    "CONNECT_TIMEOUT",
    "probe_hub",
    "quiet_hub_retries",
    "unreachable",
    "replace_whole",
    "update_locked",
}
"""Names private modules share with each other, not exported."""


def test_all_is_sorted_and_complete() -> None:
    assert not export_problems(facecrab, internal=INTERNAL)
    for name in facecrab.__all__:
        assert hasattr(facecrab, name), name


def test_public_classes_and_functions_name_the_package() -> None:
    assert not private_module_names([facecrab], {"facecrab"})
    assert facecrab.AssetAuthority.__module__ == "facecrab"


def test_errors_pickle_after_the_rewrite() -> None:
    error = facecrab.ModelNotFoundError("no alias 'x'", ("a", "b"))
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is facecrab.ModelNotFoundError
    assert (copy.message, copy.alternatives) == ("no alias 'x'", ("a", "b"))
    assert pickle.loads(pickle.dumps(facecrab.OfflineError("offline"))).message == "offline"
