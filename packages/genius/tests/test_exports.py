"""``rusty_genius`` is a small facade; topic modules hold the rest, as trio and anyio do.

The top level holds what a user of ``Genius`` needs; ``rusty_genius.protocol``,
``.brainstem``, ``.engines``, ``.assets``, ``.server`` and ``.errors`` hold the rest.
The facade is complete (every name genius's own private modules declare is exported
exactly once) and sorted; it is not required to re-export everything below it.
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import types
import typing

import facecrab
import rusty_genius
import rusty_genius_core
import rusty_genius_cortex
import rusty_genius_stem
import rusty_genius_teaser
from rusty_genius import assets, brainstem, engines, errors, protocol, server
from rusty_genius_testhub.exports import misplaced_names, private_module_names, unsorted_all

PACKAGES = (rusty_genius_core, facecrab, rusty_genius_cortex, rusty_genius_stem)
TOPICS = (assets, brainstem, engines, errors, protocol, server)
FACADE = (rusty_genius, *TOPICS)
DISTRIBUTIONS = {m.__name__ for m in (*PACKAGES, rusty_genius, rusty_genius_teaser)}
# Names two packages export for the same idea; genius re-exports the first package's object.
SAME_IDEA = {"ProgressCallback": (facecrab, rusty_genius_stem)}
COMMAND_LINE = {"_cli", "_progress"}
"""The ``genius`` program's modules: what they declare is for ``__main__``, not a library."""
OWN_MODULES = [
    importlib.import_module(f"rusty_genius.{m.name}")
    for m in pkgutil.iter_modules(rusty_genius.__path__)
    if m.name.startswith("_") and not m.name.startswith("__") and m.name not in COMMAND_LINE
]
"""genius's own library modules and subpackages (not ``_serve``'s modules, only its face)."""


def test_the_top_level_is_small_sorted_and_resolves() -> None:
    assert len(rusty_genius.__all__) <= 40
    assert not unsorted_all(FACADE)
    for module in FACADE:
        for name in module.__all__:
            assert hasattr(module, name), (module.__name__, name)
    for name in ("Genius", "Answer", "InferenceConfig", "Sampling", "LoadOptions", "ChatMessage"):
        assert name in rusty_genius.__all__, name


def test_the_facade_is_complete() -> None:
    """Each name genius's private modules declare is exported once, by the top or a topic."""
    assert {"_answer", "_backend", "_genius", "_serve"} <= {
        m.__name__.rsplit(".", 1)[1] for m in OWN_MODULES if hasattr(m, "__all__")
    }
    with_all = [m for m in OWN_MODULES if hasattr(m, "__all__")]
    assert not misplaced_names(rusty_genius, TOPICS, modules=with_all)
    assert {"error_from_report"} <= set(errors.__all__)


def test_each_name_has_one_home_and_one_meaning() -> None:
    """Topic modules do not overlap; the top level repeats only errors from ``errors``."""
    names = {name for module in FACADE for name in module.__all__}
    homes = {n: [m.__name__ for m in FACADE if n in m.__all__] for n in names}
    repeated = {n: h for n, h in homes.items() if len(h) > 1}
    assert all(h == ["rusty_genius", "rusty_genius.errors"] for h in repeated.values()), repeated
    assert all(getattr(rusty_genius, n) is getattr(errors, n) for n in repeated)
    below = {n: getattr(p, n) for p in reversed(PACKAGES) for n in p.__all__}  # first one wins
    wrong = [
        f"{m.__name__}.{n}"
        for m in FACADE
        for n in m.__all__
        if n in below and getattr(m, n) is not below[n]
    ]
    assert not wrong, "a name the facade shares with a package below must mean its object"


def test_public_classes_and_functions_name_a_public_module() -> None:
    assert not private_module_names(FACADE, DISTRIBUTIONS)
    assert rusty_genius.Genius.__module__ == "rusty_genius"
    assert engines.choose_backend.__module__ == "rusty_genius.engines"
    assert server.create_app.__module__ == "rusty_genius.server"
    assert rusty_genius.Content.__module__ == "rusty_genius_core"  # the distribution's own
    assert typing.get_type_hints(rusty_genius.Answer)["usage"] is rusty_genius.Usage


def test_the_docstring_maps_every_topic_module() -> None:
    doc = rusty_genius.__doc__ or ""
    for topic in TOPICS:
        assert f":mod:`{topic.__name__}`" in doc, topic.__name__
        assert isinstance(getattr(rusty_genius, topic.__name__.rsplit(".", 1)[1]), types.ModuleType)


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


def _name(ref: str | typing.ForwardRef) -> str:
    return ref if isinstance(ref, str) else ref.__forward_arg__


def test_the_http_stack_loads_on_first_use_of_a_name_that_needs_it() -> None:
    """``import rusty_genius`` (and the command line) import no HTTP client or server."""
    code = (
        "import sys, rusty_genius, rusty_genius._cli\n"
        "heavy = ('httpx', 'starlette', 'fastapi', 'hypercorn', 'huggingface_hub', 'llama_cpp')\n"
        "assert not [m for m in heavy if m in sys.modules], [m for m in heavy if m in sys.modules]\n"
        "from rusty_genius import engines, server\n"
        "assert {'create_app', 'GeniusApp'} <= set(dir(server))\n"
        "assert 'RemoteEngine' in dir(engines)\n"
        "from rusty_genius._serve._app import create_app\n"
        "assert server.create_app is create_app and 'starlette' in sys.modules\n"
        "assert create_app.__module__ == 'rusty_genius.server'\n"
        "assert engines.RemoteEngine.__module__ == 'rusty_genius_cortex'\n"
        "for module in (rusty_genius, server, engines):\n"
        "    try:\n"
        "        module.NoSuchName\n"
        "    except AttributeError as exc:\n"
        "        assert 'NoSuchName' in str(exc)\n"
        "    else:\n"
        "        raise AssertionError('an unknown name resolved')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
