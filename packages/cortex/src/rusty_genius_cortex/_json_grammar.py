"""JSON Schema to a llama.cpp GBNF grammar: structured output enforced while sampling.

:func:`schema_to_grammar` turns a JSON Schema (a dict, or ``True`` for any JSON
value) into grammar text whose language is JSON that validates against the
schema, so llama.cpp's grammar sampler can only produce valid instances. It
follows llama.cpp's ``common/json-schema-to-grammar.cpp`` (rule layout, the
``space`` rule, integer ranges by digit structure) and goes further: number
bounds (inclusive and exclusive, decimals included) are enforced by the digits
too, and every keyword is either enforced or refused.

Enforced: ``type`` (one or a list), ``enum``, ``const``, ``properties``,
``required``, ``additionalProperties`` (absent means none, as in llama.cpp),
``items``, ``prefixItems``, ``minItems``, ``maxItems``, ``minLength``,
``maxLength``, ``format`` ``date``/``time``/``date-time``/``uuid``,
``minimum``, ``maximum``, ``exclusiveMinimum``, ``exclusiveMaximum`` (draft 4's
boolean form too), ``anyOf``, ``oneOf`` (as ``anyOf``: the branches must not
overlap), ``allOf`` (merged objects), ``$ref`` to ``#/$defs/...`` or
``#/definitions/...`` (recursion included), OpenAPI's ``nullable``. Ignored
annotations: ``title``, ``description``, ``default``, ``examples`` and the like,
and other ``format`` values (an annotation in JSON Schema 2020-12). Anything
else (``pattern``, ``uniqueItems``, ``multipleOf``, ``not``, ...) raises
:class:`SchemaError` naming the keyword and where it is.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from ._gbnf import decimal_range, format_literal, int_range, json_literal, repetition
from ._json_primitives import FORMATS as _FORMATS
from ._json_primitives import FORMATS_ALSO as _FORMATS_ALSO
from ._json_primitives import PRIMITIVES as _PRIMITIVES
from ._schema_error import SchemaError

__all__ = ["ANY_JSON_OBJECT", "GrammarBuilder", "SchemaError", "schema_to_grammar"]

ANY_JSON_OBJECT: Final[dict[str, Any]] = {"type": "object", "additionalProperties": True}
"""The schema of ``response_format: json_object`` / ``format: "json"``: any JSON object."""


_SPACE: Final = 'space ::= " "?'
_ANNOTATIONS: Final = frozenset(
    {
        "title",
        "description",
        "default",
        "examples",
        "example",
        "$schema",
        "$id",
        "$comment",
        "$defs",
        "definitions",
        "deprecated",
        "readOnly",
        "writeOnly",
        "contentMediaType",
        "contentEncoding",
        "discriminator",
        "strict",
        "nullable",
    }
)
_BY_TYPE: Final[dict[str, frozenset[str]]] = {
    "object": frozenset({"properties", "required", "additionalProperties"}),
    "array": frozenset({"items", "prefixItems", "minItems", "maxItems"}),
    "string": frozenset({"minLength", "maxLength", "format"}),
    "integer": frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}),
    "number": frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}),
    "boolean": frozenset(),
    "null": frozenset(),
}
_OTHER_TYPES: Final = frozenset().union(*_BY_TYPE.values())
_INVALID_NAME: Final = re.compile(r"[^a-zA-Z0-9-]+")


def schema_to_grammar(schema: object) -> str:
    """The GBNF grammar (start rule ``root``) of JSON instances valid against ``schema``.

    :class:`SchemaError` names the first keyword that cannot be enforced.
    """
    builder = GrammarBuilder()
    return builder.grammar(builder.schema(schema, "root"))


def _pointer(path: str, *parts: object) -> str:
    return "/".join([path, *(str(p).replace("~", "~0").replace("/", "~1") for p in parts)])


class GrammarBuilder:
    """Rules for one or more schemas in one grammar (the generic tool mode needs several)."""

    def __init__(self) -> None:
        self._doc: object = None
        self._rules: dict[str, str] = {"space": _SPACE.split(" ::= ", 1)[1]}
        self._refs: dict[str, str] = {}

    def schema(self, schema: object, name: str, path: str = "#") -> str:
        """Add the rules of ``schema`` (its ``$ref`` resolve inside it); its rule's name."""
        self._doc, self._refs = schema, {}
        return self._visit(schema, name, path)

    def rule(self, name: str, body: str) -> str:
        """Add a rule of GBNF text; its (possibly suffixed) name."""
        return self._add(name, body)

    def grammar(self, root: str) -> str:
        """The grammar text, starting at rule ``root``."""
        rules = dict(self._rules)
        if root != "root":
            rules["root"] = root
        ordered = ["root", *sorted(k for k in rules if k != "root")]
        return "\n".join(f"{name} ::= {rules[name]}" for name in ordered) + "\n"

    # -- rules --------------------------------------------------------------------------------

    def _add(self, name: str, body: str) -> str:
        key = _INVALID_NAME.sub("-", name).strip("-") or "r"
        if key in _PRIMITIVES and self._rules.get(key, body) != body:
            key += "-x"
        candidate, n = key, 0
        while candidate in self._rules and self._rules[candidate] != body:
            n += 1
            candidate = f"{key}{n}"
        self._rules[candidate] = body
        return candidate

    def _primitive(self, name: str) -> str:
        body, deps = _PRIMITIVES[name]
        self._rules[name] = body
        for dep in deps:
            if dep not in self._rules:
                self._primitive(dep)
        return name

    # -- schemas ------------------------------------------------------------------------------

    def _visit(self, schema: object, name: str, path: str) -> str:
        if schema is True or schema == {}:
            return self._primitive("value")
        if schema is False:
            raise SchemaError(f"the schema at {path} is false: no value is valid")
        if not isinstance(schema, dict):
            raise SchemaError(f"the schema at {path} is not an object: {schema!r}")
        if schema.get("nullable") is True:
            rest = {k: v for k, v in schema.items() if k != "nullable"}
            inner = self._visit(rest, name + "-x", path)
            return self._add(name, f"{inner} | {self._primitive('null')}")
        if "$ref" in schema:
            return self._ref(schema, name, path)
        if "allOf" in schema:
            return self._visit(self._merge_all_of(schema, path), name, path)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                branches = schema[key]
                if not isinstance(branches, list) or not branches:
                    raise SchemaError(f"{key} at {path} must be a non-empty list")
                rest = {k: v for k, v in schema.items() if k not in (key, *_ANNOTATIONS)}
                alts = [
                    self._visit(
                        {**rest, **b} if isinstance(b, dict) else b,
                        f"{name}-{i}",
                        _pointer(path, key, i),
                    )
                    for i, b in enumerate(branches)
                ]
                return self._add(name, " | ".join(alts))
        if "const" in schema:
            self._check_keys(schema, path, {"const", "type"})
            return self._add(name, json_literal(schema["const"]))
        if "enum" in schema:
            self._check_keys(schema, path, {"enum", "type"})
            values = schema["enum"]
            if not isinstance(values, list) or not values:
                raise SchemaError(f"enum at {path} must be a non-empty list")
            return self._add(name, " | ".join(json_literal(v) for v in values))
        kind = schema.get("type")
        if isinstance(kind, list):
            if not kind:
                raise SchemaError(f"type at {path} is an empty list")
            alts = [self._visit({**schema, "type": t}, f"{name}-{t}", path) for t in kind]
            return self._add(name, " | ".join(alts))
        if kind is None:
            kind = self._infer_type(schema)
            if kind is None:
                self._check_keys(schema, path, set())
                return self._primitive("value")
        if kind not in _BY_TYPE:
            raise SchemaError(f"type at {path} is {kind!r}, not a JSON Schema type")
        self._check_keys(schema, path, _BY_TYPE[kind] | {"type"})
        return getattr(self, f"_{kind}")(schema, name, path)  # type: ignore[no-any-return]

    def _infer_type(self, schema: dict[str, Any]) -> str | None:
        for kind in ("object", "array", "string", "number"):
            if _BY_TYPE[kind] & schema.keys():
                return kind
        return None

    def _check_keys(
        self, schema: dict[str, Any], path: str, allowed: set[str] | frozenset[str]
    ) -> None:
        for key in schema:
            if key in allowed or key in _ANNOTATIONS or key in _OTHER_TYPES:
                continue  # a keyword of another type does not constrain this one's values
            raise SchemaError(
                f"JSON Schema keyword {key!r} at {_pointer(path, key)} cannot be enforced by "
                "the grammar; structured output supports type, enum, const, properties, "
                "required, additionalProperties, items, prefixItems, minItems, maxItems, "
                "minLength, maxLength, format (date, time, date-time, uuid), minimum, maximum, "
                "exclusiveMinimum, exclusiveMaximum, anyOf, oneOf, allOf and $ref"
            )

    def _ref(self, schema: dict[str, Any], name: str, path: str) -> str:
        ref = schema["$ref"]
        self._check_keys(schema, path, {"$ref"})
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise SchemaError(f"$ref at {path} must point inside the schema (#/...), got {ref!r}")
        if ref in self._refs:
            return self._refs[ref]
        target: object = self._doc
        for part in ref[1:].split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or part not in target:
                raise SchemaError(f"$ref {ref!r} at {path} points to nothing")
            target = target[part]
        rule = self._add("ref" + ref[1:], "space")  # a placeholder while recursion resolves
        self._refs[ref] = rule
        self._rules[rule] = self._visit(target, rule + "-body", ref)
        return rule

    def _merge_all_of(self, schema: dict[str, Any], path: str) -> dict[str, Any]:
        parts = schema["allOf"]
        if not isinstance(parts, list) or not parts:
            raise SchemaError(f"allOf at {path} must be a non-empty list")
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for i, part in enumerate(parts):
            where = _pointer(path, "allOf", i)
            while isinstance(part, dict) and "$ref" in part and len(part) == 1:
                part = self._resolve(part["$ref"], where)
            if not isinstance(part, dict):
                raise SchemaError(f"allOf at {where} must hold schemas")
            for key, value in part.items():
                if key in _ANNOTATIONS:
                    continue
                if key == "properties":
                    merged["properties"] = {**merged.get("properties", {}), **value}
                elif key == "required":
                    merged["required"] = [*merged.get("required", []), *value]
                elif key in merged and merged[key] != value:
                    raise SchemaError(f"allOf at {where} conflicts with {key!r}")
                else:
                    merged[key] = value
        return merged

    def _resolve(self, ref: object, path: str) -> object:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise SchemaError(f"$ref at {path} must point inside the schema, got {ref!r}")
        target: object = self._doc
        for part in ref[1:].split("/")[1:]:
            if not isinstance(target, dict) or part not in target:
                raise SchemaError(f"$ref {ref!r} at {path} points to nothing")
            target = target[part]
        return target

    # -- one rule per type --------------------------------------------------------------------

    def _object(self, schema: dict[str, Any], name: str, path: str) -> str:
        props = schema.get("properties", {})
        required = schema.get("required", [])
        if not isinstance(props, dict) or not isinstance(required, list):
            raise SchemaError(f"properties/required at {path} must be an object and a list")
        # As llama.cpp: with properties, no others unless additionalProperties says so.
        extra = schema.get("additionalProperties", "properties" not in schema and not required)
        kvs: dict[str, str] = {}
        order = [*props, *(r for r in required if r not in props)]
        for key in order:
            value = self._visit(
                props.get(key, True), f"{name}-{key}", _pointer(path, "properties", key)
            )
            kvs[key] = self._add(f"{name}-{key}-kv", f'{json_literal(key)} space ":" space {value}')
        req = [k for k in order if k in required]
        opt = [k for k in order if k not in required]
        if extra is not False:
            value = self._visit(extra, f"{name}-extra", _pointer(path, "additionalProperties"))
            key_rule = self._primitive("string") if not order else self._not_keys(order, name)
            kvs["*"] = self._add(f"{name}-extra-kv", f'{key_rule} space ":" space {value}')
            opt.append("*")
        if not req and not opt:
            return self._add(name, '"{" space "}"')
        body = '"{" space ' + ' "," space '.join(kvs[k] for k in req)
        if opt:
            alts = [self._rest(opt[i:], kvs, name, first=True) for i in range(len(opt))]
            tail = " | ".join(alts)
            body += f' ( "," space ( {tail} ) )?' if req else f" ( {tail} )?"
        return self._add(name, body + ' space "}"')

    def _rest(self, keys: list[str], kvs: dict[str, str], name: str, *, first: bool) -> str:
        """Optional properties in order, each at most once (``*``: extra properties)."""
        key = keys[0]
        kv = kvs[key]
        comma = f'( "," space {kv} )'
        if first:
            head = f"{kv} {comma}*" if key == "*" else kv
        else:
            head = comma + ("*" if key == "*" else "?")
        if len(keys) == 1:
            return head
        rest = self._add(f"{name}-{key}-rest", self._rest(keys[1:], kvs, name, first=False))
        return f"{head} {rest}"

    def _not_keys(self, keys: list[str], name: str) -> str:
        """A JSON string that is none of ``keys`` (spelled out by prefix, as llama.cpp does).

        Its characters are unescaped ones only, so no escape sequence can spell a listed key.
        """
        base = r'"\\\x7F\x00-\x1F'
        key_char = self._add("key-char", f"[^{base}]")
        trie: dict[str, Any] = {}
        for key in keys:
            node = trie
            for c in key:
                node = node.setdefault(c, {})
            node[""] = {}

        def nonempty(node: dict[str, Any]) -> str:
            chars = [c for c in node if c]
            out = []
            for c in chars:
                child = node[c]
                sub = nonempty(child)
                out.append(f"{format_literal(c)} ({sub})" + ("" if "" in child else "?"))
            neg = "".join(_class_escape(c) for c in chars)
            out.append(f"[^{base}{neg}] {key_char}*")
            return " | ".join(out)

        inner = f"( {nonempty(trie)} )" + ("" if "" in trie else "?")
        return self._add(f"{name}-extra-key", f'"\\"" {inner} "\\""')

    def _array(self, schema: dict[str, Any], name: str, path: str) -> str:
        lo, hi = self._count(schema, "minItems", "maxItems", path)
        prefix = schema.get("prefixItems")
        items = schema.get("items", prefix is None)
        if prefix is not None:
            if not isinstance(prefix, list):
                raise SchemaError(f"prefixItems at {path} must be a list")
            rules = [
                self._visit(p, f"{name}-{i}", _pointer(path, "prefixItems", i))
                for i, p in enumerate(prefix)
            ]
            if items is not False or lo > len(rules) or (hi is not None and hi < len(rules)):
                raise SchemaError(
                    f"prefixItems at {path} is supported as a fixed tuple only "
                    "(items false, no minItems/maxItems beyond its length)"
                )
            body = ' "," space '.join(rules)
            return self._add(name, f'"[" space {body} space "]"')
        item = self._visit(items, f"{name}-item", _pointer(path, "items"))
        inner = repetition(item, lo, hi, '"," space')
        return self._add(name, f'"[" space {inner} space "]"' if inner else '"[" space "]"')

    def _string(self, schema: dict[str, Any], name: str, path: str) -> str:
        fmt = schema.get("format")
        if isinstance(fmt, str) and (fmt in _FORMATS or fmt in _FORMATS_ALSO):
            if "minLength" in schema or "maxLength" in schema:
                raise SchemaError(f"format {fmt!r} at {path} cannot be combined with lengths")
            return self._primitive(_FORMATS.get(fmt) or _FORMATS_ALSO[fmt])
        lo, hi = self._count(schema, "minLength", "maxLength", path)
        if lo == 0 and hi is None:
            return self._primitive("string")
        chars = repetition(self._primitive("char"), lo, hi)
        return self._add(name, " ".join(p for p in ('"\\""', chars, '"\\""') if p))

    def _count(
        self, schema: dict[str, Any], low: str, high: str, path: str
    ) -> tuple[int, int | None]:
        lo, hi = schema.get(low, 0), schema.get(high)
        for key, value in ((low, lo), (high, hi)):
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or value < 0
            ):
                raise SchemaError(f"{key} at {path} must be a non-negative integer, got {value!r}")
        if hi is not None and lo > hi:
            raise SchemaError(f"{low} {lo} exceeds {high} {hi} at {path}: no value is valid")
        return lo, hi

    def _bounds(
        self, schema: dict[str, Any], path: str
    ) -> tuple[Decimal | None, bool, Decimal | None, bool]:
        def num(key: str) -> Decimal | None:
            value = schema.get(key)
            if value is None or isinstance(value, bool):
                return None
            if not isinstance(value, int | float) or (
                isinstance(value, float) and not math.isfinite(value)
            ):
                raise SchemaError(f"{key} at {path} must be a finite number, got {value!r}")
            try:
                return Decimal(str(value))
            except InvalidOperation as exc:  # pragma: no cover - str() of a finite number
                raise SchemaError(f"{key} at {path} is not a number: {value!r}") from exc

        lo, hi = num("minimum"), num("maximum")
        lo_x, hi_x = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
        lo_strict = hi_strict = False
        if lo_x is True:  # draft 4: a flag on minimum
            lo_strict = lo is not None
        elif (x := num("exclusiveMinimum")) is not None and (lo is None or x >= lo):
            lo, lo_strict = x, True
        if hi_x is True:
            hi_strict = hi is not None
        elif (x := num("exclusiveMaximum")) is not None and (hi is None or x <= hi):
            hi, hi_strict = x, True
        return lo, lo_strict, hi, hi_strict

    def _integer(self, schema: dict[str, Any], name: str, path: str) -> str:
        lo, lo_strict, hi, hi_strict = self._bounds(schema, path)
        if lo is None and hi is None:
            return self._primitive("integer")
        ilo = (
            None
            if lo is None
            else math.floor(lo) + 1
            if lo_strict or lo != math.floor(lo)
            else int(lo)
        )
        ihi = (
            None
            if hi is None
            else math.ceil(hi) - 1
            if hi_strict or hi != math.ceil(hi)
            else int(hi)
        )
        if ilo is not None and ihi is not None and ilo > ihi:
            raise SchemaError(f"no integer lies within the bounds at {path}")
        return self._add(name, int_range(ilo, ihi))

    def _number(self, schema: dict[str, Any], name: str, path: str) -> str:
        lo, lo_strict, hi, hi_strict = self._bounds(schema, path)
        if lo is None and hi is None:
            return self._primitive("number")
        try:
            return self._add(name, decimal_range(lo, lo_strict, hi, hi_strict))
        except ValueError as exc:
            raise SchemaError(f"the number bounds at {path} cannot be enforced: {exc}") from exc

    def _boolean(self, schema: dict[str, Any], name: str, path: str) -> str:
        return self._primitive("boolean")

    def _null(self, schema: dict[str, Any], name: str, path: str) -> str:
        return self._primitive("null")


def _class_escape(c: str) -> str:
    return {
        "\\": "\\\\",
        "]": "\\]",
        "-": "\\-",
        "^": "\\^",
        '"': '\\"',
        "\n": "\\n",
        "\r": "\\r",
    }.get(c, c)
