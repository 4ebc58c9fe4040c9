"""The error of a JSON Schema the grammar cannot enforce; apart from the grammar so that
importing the package (and registering the error's name) does not import the grammar."""

from __future__ import annotations

from rusty_genius_core import UnsupportedError

__all__ = ["SchemaError"]


class SchemaError(UnsupportedError):
    """A JSON Schema uses a keyword the grammar cannot enforce, or is malformed (400)."""
