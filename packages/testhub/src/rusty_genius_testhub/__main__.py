"""``python -m rusty_genius_testhub fetch-models [NAME ...]``."""

from __future__ import annotations

import sys

from ._models import TEST_MODELS, ensure_test_models


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "fetch-models":
        print("usage: python -m rusty_genius_testhub fetch-models [NAME ...]", file=sys.stderr)
        return 2
    names = tuple(argv[1:]) or tuple(TEST_MODELS)
    unknown = [n for n in names if n not in TEST_MODELS]
    if unknown:
        print(f"unknown test model(s): {', '.join(unknown)}; known: {', '.join(TEST_MODELS)}")
        return 2
    for name, path in ensure_test_models(names).items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
