"""Run the CLI: ``python -m rusty_genius``."""

from __future__ import annotations

from ._cli import console_main

if __name__ == "__main__":
    raise SystemExit(console_main())
