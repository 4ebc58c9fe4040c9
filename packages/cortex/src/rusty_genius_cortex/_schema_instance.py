"""A small, deterministic JSON value valid for a JSON Schema: Pinky's scripted answers.

:func:`schema_instance` builds the least it can: required properties only, the fewest
array items (``minItems``), numbers at their lower bound (``minimum``, exclusive bounds
and ``multipleOf`` respected), the first ``enum`` value or ``const``, the first branch
of ``anyOf``/``oneOf``, ``allOf`` merged, ``$ref`` into ``$defs``/``definitions``.
Strings are filled from ``text`` (the words Pinky would echo), cut to ``maxLength`` and
padded to ``minLength``. The result is checked with ``jsonschema``; a schema it cannot
satisfy (a ``pattern`` the text does not match, contradictory bounds) is
:class:`~rusty_genius_core.UnsupportedError`, never an invalid answer.
"""

from __future__ import annotations

import math
from typing import Any, Final

import jsonschema

from rusty_genius_core import UnsupportedError

__all__ = ["schema_instance"]

_MAX_DEPTH: Final = 32
_FORMATS: Final = {
    "date": "2024-01-01",
    "date-time": "2024-01-01T00:00:00Z",
    "time": "00:00:00Z",
    "email": "pinky@example.com",
    "uri": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
    "hostname": "example.com",
}


def schema_instance(schema: dict[str, Any], text: str = "") -> Any:
    """A JSON value valid for ``schema``; strings come from ``text`` where they can."""
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise UnsupportedError(f"the JSON schema is invalid: {exc.message}") from None
    value = _Builder(schema, text).build(schema, 0)
    problem = jsonschema.exceptions.best_match(
        jsonschema.validators.validator_for(schema)(schema).iter_errors(value)
    )
    if problem is not None:
        raise UnsupportedError(
            f"Pinky cannot build a value for this schema ({problem.message})"
        ) from None
    return value


class _Builder:
    def __init__(self, root: dict[str, Any], text: str) -> None:
        self._root = root
        self._text = " ".join(text.split()) or "narf"

    def _resolve(self, ref: str) -> dict[str, Any]:
        if not ref.startswith("#"):
            raise UnsupportedError(f"Pinky follows only local $ref, got {ref!r}")
        node: Any = self._root
        for part in ref.lstrip("#").strip("/").split("/"):
            if not part:
                continue
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise UnsupportedError(f"$ref {ref!r} points nowhere")
            node = node[part]
        if not isinstance(node, dict):
            raise UnsupportedError(f"$ref {ref!r} is not a schema")
        return node

    def build(self, schema: Any, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise UnsupportedError("the JSON schema nests too deeply for Pinky")
        if schema is True or schema == {}:
            return {}
        if not isinstance(schema, dict):
            raise UnsupportedError("Pinky cannot satisfy a 'false' schema")
        if "$ref" in schema:
            merged = {**self._resolve(schema["$ref"]), **schema}
            del merged["$ref"]
            return self.build(merged, depth + 1)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][0]
        for key in ("anyOf", "oneOf"):
            if key in schema:
                rest = {k: v for k, v in schema.items() if k != key}
                return self.build({**rest, **schema[key][0]}, depth + 1)
        if "allOf" in schema:
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                part = self._resolve(part["$ref"]) if "$ref" in part else part
                for k, v in part.items():
                    if k == "properties":
                        merged["properties"] = {**merged.get("properties", {}), **v}
                    elif k == "required":
                        merged["required"] = [*merged.get("required", []), *v]
                    else:
                        merged.setdefault(k, v)
            return self.build(merged, depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = self._guess(schema)
        return self._by_type(kind, schema, depth)

    @staticmethod
    def _guess(schema: dict[str, Any]) -> str:
        if "properties" in schema or "required" in schema:
            return "object"
        if "items" in schema or "prefixItems" in schema:
            return "array"
        if "minimum" in schema or "maximum" in schema:
            return "number"
        if "minLength" in schema or "maxLength" in schema or "pattern" in schema:
            return "string"
        return "object"

    def _by_type(self, kind: str, schema: dict[str, Any], depth: int) -> Any:
        if kind == "object":
            properties = schema.get("properties", {})
            out = {}
            for name in schema.get("required", []):
                out[name] = self.build(properties.get(name, {}), depth + 1)
            for name, sub in properties.items():
                if len(out) >= schema.get("minProperties", 0):
                    break
                out.setdefault(name, self.build(sub, depth + 1))
            return out
        if kind == "array":
            prefix = schema.get("prefixItems", [])
            count = max(schema.get("minItems", 0), 0)
            items = [self.build(p, depth + 1) for p in prefix[:count]]
            item_schema = schema.get("items", {})
            while len(items) < count:
                items.append(self.build(item_schema, depth + 1))
            return items
        if kind == "string":
            return self._string(schema)
        if kind in ("integer", "number"):
            return self._number(schema, integer=kind == "integer")
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        raise UnsupportedError(f"Pinky does not know the JSON type {kind!r}")

    def _string(self, schema: dict[str, Any]) -> str:
        if schema.get("format") in _FORMATS:
            return _FORMATS[schema["format"]]
        text = self._text
        low = schema.get("minLength", 0)
        high = schema.get("maxLength")
        if high is not None:
            text = text[:high]
        if len(text) < low:
            text += "!" * (low - len(text))
        return text

    @staticmethod
    def _number(schema: dict[str, Any], *, integer: bool) -> float | int:
        low = schema.get("minimum")
        exclusive_low = schema.get("exclusiveMinimum")
        high = schema.get("maximum")
        exclusive_high = schema.get("exclusiveMaximum")
        step = schema.get("multipleOf")
        value: float = 0
        if low is not None:
            value = low
        if exclusive_low is not None and value <= exclusive_low:
            value = math.floor(exclusive_low) + 1 if integer else exclusive_low + 1e-6
        if high is not None and value > high:
            value = high
        if exclusive_high is not None and value >= exclusive_high:
            value = (math.ceil(exclusive_high) - 1) if integer else exclusive_high - 1e-6
        if step:
            value = math.ceil(value / step) * step
        if integer:
            value = math.ceil(value)
            return int(value)
        return value
