"""A "did you mean" for a mistyped name: close matches by ``difflib``, imported when needed."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["close_matches", "did_you_mean", "usage_hint"]


def close_matches(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Up to ``n`` of ``choices`` close to ``word``, the closest first."""
    import difflib  # here: only a mistake pays for it

    return difflib.get_close_matches(word, list(choices), n=n, cutoff=0.6)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` (or ``'x' or 'y'``), or ``""`` when nothing is close."""
    close = close_matches(word, choices)
    if not close:
        return ""
    return "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?"


_INVALID_CHOICE: Final = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)")


def usage_hint(message: str, options: Iterable[str]) -> str:
    """A "did you mean" for argparse's ``message``: a mistyped choice or unknown ``options``."""
    choice = _INVALID_CHOICE.search(message)
    if choice is not None:
        return did_you_mean(choice[1], re.findall(r"'([^']*)'", choice[2]))
    if message.startswith("unrecognized arguments: "):
        known = list(options)
        for word in message.removeprefix("unrecognized arguments: ").split():
            if word.startswith("--"):
                hint = did_you_mean(word.partition("=")[0], known)
                if hint:
                    return hint
    return ""
