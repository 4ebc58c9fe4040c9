"""``rusty_genius`` re-exports every public name of the packages below it, and its own."""

from __future__ import annotations

import subprocess
import sys
import typing

import facecrab
import rusty_genius
import rusty_genius_core
import rusty_genius_cortex
import rusty_genius_stem

PACKAGES = (rusty_genius_core, facecrab, rusty_genius_cortex, rusty_genius_stem)
# Names two packages export for the same idea; genius re-exports the first package's object.
SAME_IDEA = {"ProgressCallback": (facecrab, rusty_genius_stem)}


def test_all_is_sorted_and_has_no_duplicates() -> None:
    exported = rusty_genius.__all__
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), n))
    assert len(set(exported)) == len(exported)
    for name in exported:
        assert hasattr(rusty_genius, name), name


def test_every_public_name_below_is_re_exported_as_the_same_object() -> None:
    exported = set(rusty_genius.__all__)
    missing = [
        f"from {package.__name__} import {name} as {name}"
        for package in PACKAGES
        for name in package.__all__
        if name not in exported
    ]
    assert not missing, "add to rusty_genius/__init__.py (and __all__):\n" + "\n".join(missing)
    for package in PACKAGES:
        for name in package.__all__:
            if name in SAME_IDEA:
                first = SAME_IDEA[name][0]
                assert getattr(rusty_genius, name) is getattr(first, name)
                continue
            assert getattr(rusty_genius, name) is getattr(package, name), (package, name)


def test_names_shared_between_packages_are_known_and_mean_the_same() -> None:
    owners: dict[str, list[str]] = {}
    for package in PACKAGES:
        for name in package.__all__:
            owners.setdefault(name, []).append(package.__name__)
    shared = {name: pkgs for name, pkgs in owners.items() if len(pkgs) > 1}
    for name, pkgs in shared.items():
        values = {id(getattr(__import__(p), name)) for p in pkgs}
        if len(values) > 1:  # two objects under one name: only a listed alias may do that
            assert name in SAME_IDEA, f"{name} means different things in {pkgs}"
            assert pkgs == [p.__name__ for p in SAME_IDEA[name]]
            assert _resolved(getattr(facecrab, name)) == _resolved(getattr(rusty_genius_stem, name))


def _resolved(alias: object) -> tuple[object, ...]:
    """A ``Callable[[X], R]`` alias with string forward references looked up in core."""
    params, result = typing.get_args(alias)
    return (
        typing.get_origin(alias),
        tuple(
            getattr(rusty_genius_core, _name(p)) if isinstance(p, str | typing.ForwardRef) else p
            for p in params
        ),
        result,
    )


def test_own_names_live_in_private_modules() -> None:
    below = {name for package in PACKAGES for name in package.__all__}
    own = [name for name in rusty_genius.__all__ if name not in below]
    assert sorted(own) == sorted(
        [
            "DEFAULT_PROBE_TIMEOUT",
            "Answer",
            "AnswerBuilder",
            "BackendChoice",
            "BackendName",
            "EventStream",
            "Genius",
            "InferenceStream",
            "MessageLike",
            "RequestEvent",
            "choose_backend",
            "error_from_report",
            "hub_reachable",
            "GeniusApp",
            "ServerAddress",
            "ServerStatistics",
            "create_app",
            "open_server",
            "parse_keep_alive",
        ]
    )
    for name in own:
        value = getattr(rusty_genius, name)
        if isinstance(value, type) or (callable(value) and hasattr(value, "__code__")):
            assert value.__module__.startswith("rusty_genius._"), (name, value.__module__)


def _name(ref: str | typing.ForwardRef) -> str:
    return ref if isinstance(ref, str) else ref.__forward_arg__


def test_the_http_stack_loads_on_first_use_of_a_name_that_needs_it() -> None:
    """``import rusty_genius`` (and the command line) import no HTTP client or server."""
    code = (
        "import sys, rusty_genius, rusty_genius._cli\n"
        "heavy = ('httpx', 'starlette', 'hypercorn', 'huggingface_hub', 'llama_cpp')\n"
        "assert not [m for m in heavy if m in sys.modules], [m for m in heavy if m in sys.modules]\n"
        "assert {'create_app', 'RemoteEngine'} <= set(dir(rusty_genius))\n"
        "from rusty_genius._serve._app import create_app\n"
        "assert rusty_genius.create_app is create_app and 'starlette' in sys.modules\n"
        "assert rusty_genius.RemoteEngine.__module__ == 'rusty_genius_cortex._remote'\n"
        "try:\n"
        "    rusty_genius.NoSuchName\n"
        "except AttributeError as exc:\n"
        "    assert 'NoSuchName' in str(exc)\n"
        "else:\n"
        "    raise AssertionError('an unknown name resolved')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
