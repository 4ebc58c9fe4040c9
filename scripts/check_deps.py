#!/usr/bin/env python3
"""Fail when the runtime dependency tree of the library distributions has lock-in.

Reads ``uv.lock`` (stdlib ``tomllib`` only, so any Python 3.11 runs it), walks the
runtime dependencies of the five library distributions -- every extra included,
every platform marker taken, dependency groups (dev tools) left out -- and prints
each package with the chain that pulls it in. Exit status: 0 clean, 1 when a
forbidden package is in the tree, 2 when the lock cannot be read or lacks a root.

Forbidden are packages that tie users to one HTTP stack or one event loop: the
libraries speak httpx on anyio, so they run on asyncio and trio and can cancel any
transfer. A blocking client (``requests``) cannot be cancelled from a task group;
an asyncio-only one (``aiohttp``) breaks trio; monkey-patching loops break both.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections import deque
from pathlib import Path
from typing import Any

LIBRARIES = (
    "rusty-genius-core",
    "facecrab",
    "rusty-genius-cortex",
    "rusty-genius-stem",
    "rusty-genius",
)

FORBIDDEN = {
    "requests": "blocking HTTP client; cannot be cancelled from an anyio task group",
    "requests-toolbelt": "add-on for requests",
    "httplib2": "blocking HTTP client",
    "pycurl": "blocking HTTP client (libcurl)",
    "aiohttp": "asyncio-only HTTP client; breaks trio",
    "aiofiles": "asyncio-only file I/O; anyio.Path does this on both backends",
    "aiodns": "asyncio-only DNS resolver",
    "uvloop": "replaces the asyncio event loop",
    "nest-asyncio": "patches asyncio to re-enter a running loop",
    "asyncio": "the PyPI backport shadows the standard library",
    "tornado": "its own event loop",
    "twisted": "its own event loop",
    "gevent": "monkey-patches the standard library",
    "eventlet": "monkey-patches the standard library",
    "curio": "its own event loop",
}


def normalize(name: str) -> str:
    """PEP 503 name: lower case, runs of ``-_.`` as one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_tree(lock: dict[str, Any], roots: tuple[str, ...]) -> dict[str, list[str]]:
    """Every package reachable from ``roots`` at run time, with the chain that reaches it.

    Follows ``dependencies`` and, for the roots and for any ``name[extra]`` edge, the
    matching ``optional-dependencies``; never ``dev-dependencies``.
    """
    packages: dict[str, list[dict[str, Any]]] = {}
    for package in lock.get("package", []):
        packages.setdefault(normalize(package["name"]), []).append(package)
    missing = [r for r in roots if normalize(r) not in packages]
    if missing:
        raise LookupError(f"not in the lock: {', '.join(missing)}")

    chains: dict[str, list[str]] = {}
    queue: deque[tuple[str, frozenset[str] | None, list[str]]] = deque(
        (normalize(r), None, [])
        for r in roots  # None: every extra of a root
    )
    seen: set[tuple[str, frozenset[str] | None]] = set()
    while queue:
        name, extras, chain = queue.popleft()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        chain = [*chain, name]
        chains.setdefault(name, chain)
        for package in packages.get(name, []):
            edges = list(package.get("dependencies", []))
            for extra, deps in package.get("optional-dependencies", {}).items():
                if extras is None or extra in extras:
                    edges.extend(deps)
            for edge in edges:
                wanted = frozenset(edge.get("extra", ()))
                queue.append((normalize(edge["name"]), wanted, chain))
    return chains


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, default=Path(__file__).parent.parent / "uv.lock")
    parser.add_argument(
        "--root",
        action="append",
        dest="roots",
        metavar="DIST",
        help=f"a distribution to walk from (repeatable; default: {', '.join(LIBRARIES)})",
    )
    args = parser.parse_args(argv)
    roots = tuple(args.roots or LIBRARIES)
    try:
        lock = tomllib.loads(args.lock.read_text(encoding="utf-8"))
        tree = runtime_tree(lock, roots)
    except (OSError, tomllib.TOMLDecodeError, LookupError, KeyError, TypeError) as exc:
        print(f"check_deps: cannot read {args.lock}: {exc}", file=sys.stderr)
        return 2

    versions = {normalize(p["name"]): p.get("version", "?") for p in lock.get("package", [])}
    print(f"Runtime dependency tree of {', '.join(roots)} ({args.lock.name}):")
    for name in sorted(tree):
        via = " <- ".join(reversed(tree[name][:-1]))
        print(f"  {name}=={versions.get(name, '?')}" + (f"  (via {via})" if via else ""))
    print(f"{len(tree)} packages; forbidden: {', '.join(sorted(FORBIDDEN))}")
    found = sorted(set(tree) & set(FORBIDDEN))
    if not found:
        print("OK: no forbidden package in the runtime tree")
        return 0
    for name in found:
        print(f"FORBIDDEN {name}: {FORBIDDEN[name]}; pulled in by {' -> '.join(tree[name])}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
