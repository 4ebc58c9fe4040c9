"""The fixture harness's public surface: complete, sorted, naming the package as the module."""

from __future__ import annotations

import rusty_genius_teaser
from rusty_genius_testhub.exports import (
    export_problems,
    private_module_names,
)

INTERNAL = {
    "BACKENDS",
    "run_on_genius",
    "ONLINE_ENV",
    "ONLINE_MARK",
    "hub_answers",
    "hub_endpoint",
    "split_online",
}
"""Names private modules share with each other (and the plugin), not exported."""


def test_all_is_sorted_and_complete() -> None:
    assert not export_problems(rusty_genius_teaser, internal=INTERNAL)


def test_public_classes_and_functions_name_the_package() -> None:
    assert not private_module_names([rusty_genius_teaser], {"rusty_genius_teaser"})
    assert rusty_genius_teaser.Fixture.__module__ == "rusty_genius_teaser"
