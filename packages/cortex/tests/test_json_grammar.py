"""JSON Schema to GBNF, checked without a model: the grammar's language against jsonschema.

Each grammar is read by ``rusty_genius_testhub.gbnf`` (a recognizer of llama.cpp's
GBNF). Soundness: every string the grammar accepts parses and validates; strings
are drawn by hypothesis from JSON values near the schema's bounds. Completeness on
examples: listed valid instances are accepted. Integer and decimal ranges are
checked value by value across their bounds.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rusty_genius_core import UnsupportedError
from rusty_genius_cortex._gbnf import decimal_range, int_range
from rusty_genius_cortex._json_grammar import ANY_JSON_OBJECT, SchemaError, schema_to_grammar
from rusty_genius_testhub.gbnf import GbnfGrammar

PERSON: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 8},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "minItems": 1, "maxItems": 2},
        "score": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        "kind": {"const": "person"},
        "address": {
            "type": "object",
            "properties": {"city": {"type": "string", "maxLength": 5}, "zip": {"type": "integer"}},
            "required": ["city"],
        },
        "nick": {"type": ["string", "null"], "maxLength": 3},
    },
    "required": ["name", "age"],
}


def grammar(schema: object) -> GbnfGrammar:
    return GbnfGrammar(schema_to_grammar(schema))


PERSON_GRAMMAR = grammar(PERSON)


def valid(schema: Any, text: str) -> bool:
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return jsonschema.Draft202012Validator(schema).is_valid(value)


@pytest.mark.parametrize(
    "text",
    [
        '{"name":"bo","age":0}',
        '{"name": "bo", "age": 120, "tags": ["a", "c"], "score": 1, "kind": "person"}',
        '{"name":"x","age":7,"address":{"city":"Rome","zip":123},"nick":null}',
        '{"name":"x","age":7,"score":0.000001,"nick":"abc"}',
        '{ "name": "\\u00e9t\\n", "age": 33 }',
    ],
)
def test_valid_instances_are_accepted(text: str) -> None:
    assert valid(PERSON, text)
    assert grammar(PERSON).matches(text)


@pytest.mark.parametrize(
    "text",
    [
        '{"age":7,"name":"x"}',  # required properties come first, in order
        '{"name":"","age":7}',  # minLength
        '{"name":"abcdefghi","age":7}',  # maxLength
        '{"name":"x","age":121}',  # maximum
        '{"name":"x","age":-1}',  # minimum
        '{"name":"x","age":7.5}',  # integer
        '{"name":"x","age":7,"tags":[]}',  # minItems
        '{"name":"x","age":7,"tags":["a","b","c"]}',  # maxItems
        '{"name":"x","age":7,"tags":["d"]}',  # enum
        '{"name":"x","age":7,"score":0}',  # exclusiveMinimum
        '{"name":"x","age":7,"score":1.01}',  # maximum
        '{"name":"x","age":7,"kind":"robot"}',  # const
        '{"name":"x","age":7,"address":{}}',  # nested required
        '{"name":"x","age":7,"extra":1}',  # no additional properties
        '{"name":"x","age":7,"nick":"abcd"}',  # maxLength in a type list
        '{"name":"x","age":7',  # unfinished
        '```json\n{"name":"x","age":7}```',
    ],
)
def test_invalid_instances_are_rejected(text: str) -> None:
    assert not grammar(PERSON).matches(text)


def json_near(schema: Any) -> st.SearchStrategy[Any]:
    """JSON values shaped like PERSON, with every field drawn across and past its bounds."""
    text = st.text(alphabet='ab"\\é\n', max_size=10)
    number = st.one_of(
        st.integers(-3, 130), st.decimals(-2, 2, places=3).map(float), st.just(1e400 * 0)
    )
    leaf = st.one_of(text, number, st.booleans(), st.none())
    return st.fixed_dictionaries(
        {"name": text, "age": number},
        optional={
            "tags": st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=3),
            "score": number,
            "kind": st.sampled_from(["person", "robot"]),
            "address": st.fixed_dictionaries({}, optional={"city": text, "zip": number, "x": leaf}),
            "nick": st.one_of(text, st.none(), number),
            "other": leaf,
        },
    )


@settings(max_examples=150, deadline=None)
@given(value=json_near(PERSON), spaced=st.booleans())
def test_the_grammar_accepts_exactly_the_valid_compact_instances(value: Any, spaced: bool) -> None:
    text = json.dumps(value, separators=(", ", ": ") if spaced else (",", ":"))
    compiled = PERSON_GRAMMAR
    if compiled.matches(text):
        assert valid(PERSON, text), text
    elif valid(PERSON, text):
        # Valid but refused: only for what the grammar narrows on purpose (property order,
        # non-finite numbers), never for a value within the bounds.
        keys = list(value)
        expected = [k for k in PERSON["properties"] if k in value]
        assert keys != expected or "NaN" in text or "e" in text.lower(), text


@pytest.mark.parametrize(
    ("lo", "hi"),
    [
        (0, 100),
        (-5, 5),
        (1, 9),
        (10, 999),
        (-100, -3),
        (None, 5),
        (3, None),
        (-7, None),
        (None, -12),
        (0, 0),
        (17, 17),
        (-20, -20),
        (1, 1000),
        (99, 101),
    ],
)
def test_integer_ranges_hold_exactly_their_values(lo: int | None, hi: int | None) -> None:
    compiled = GbnfGrammar("root ::= " + int_range(lo, hi))
    edges = {b + d for b in (lo, hi) if b is not None for d in (-1, 0, 1)}
    for v in sorted({*range(-130, 131, 3), *edges, -1001, -1000, 999, 1000, 12345, -98765}):
        inside = (lo is None or v >= lo) and (hi is None or v <= hi)
        assert compiled.matches(str(v)) == inside, v
    for text in ["01", "-0", "00", "+1", "", "1.0", "1e2"]:
        assert not compiled.matches(text), text


DECIMALS = [
    (Decimal(0), False, Decimal(1), False),
    (Decimal("0.2"), False, Decimal("0.8"), True),
    (Decimal(-1), True, Decimal("2.5"), False),
    (None, False, Decimal("-0.5"), False),
    (Decimal("1.25"), True, None, False),
    (Decimal(0), True, Decimal("0.5"), True),
    (Decimal(-3), False, Decimal(0), True),
    (Decimal("0.05"), False, Decimal("0.3"), False),
    (Decimal(10), False, Decimal(100), False),
]
SAMPLES = sorted(
    {
        f"{sign}{whole}{frac}"
        for sign in ("", "-")
        for whole in (0, 1, 2, 3, 10, 99, 100, 101)
        for frac in (
            "",
            ".0",
            ".05",
            ".049",
            ".051",
            ".2",
            ".19",
            ".25",
            ".251",
            ".3",
            ".5",
            ".5001",
            ".8",
            ".799",
            ".999",
        )
    }
)


@pytest.mark.parametrize(("lo", "lo_strict", "hi", "hi_strict"), DECIMALS)
def test_decimal_ranges_are_sound_and_complete(
    lo: Decimal | None, lo_strict: bool, hi: Decimal | None, hi_strict: bool
) -> None:
    compiled = GbnfGrammar("root ::= " + decimal_range(lo, lo_strict, hi, hi_strict))
    for text in SAMPLES:
        d = Decimal(text)
        above = lo is None or (d > lo if lo_strict else d >= lo)
        below = hi is None or (d < hi if hi_strict else d <= hi)
        if text.startswith("-") and d == 0:  # "-0" may be left out (0 needs no sign)
            assert not compiled.matches(text) or (above and below), text
        else:
            assert compiled.matches(text) == (above and below), text


def test_schema_number_bounds_reach_the_grammar() -> None:
    schema = {"type": "number", "minimum": -1.5, "exclusiveMaximum": 2}
    compiled = grammar(schema)
    for text in ["-1.5", "-1.49", "0", "1.999", "1"]:
        assert compiled.matches(text), text
    for text in ["-1.51", "2", "2.0", "3", "1e1"]:
        assert not compiled.matches(text), text


def test_refs_recursion_any_of_and_formats() -> None:
    schema = {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {
                    "v": {"type": "integer", "minimum": 0, "maximum": 9},
                    "next": {"anyOf": [{"$ref": "#/$defs/node"}, {"type": "null"}]},
                },
                "required": ["v", "next"],
            }
        },
        "type": "object",
        "properties": {
            "head": {"$ref": "#/$defs/node"},
            "day": {"type": "string", "format": "date"},
            "id": {"type": "string", "format": "uuid"},
            "flag": {"type": "boolean"},
        },
        "required": ["head", "day", "id", "flag"],
    }
    compiled = grammar(schema)
    ok = (
        '{"head":{"v":1,"next":{"v":2,"next":null}},"day":"2024-02-29",'
        '"id":"123e4567-e89b-12d3-a456-426614174000","flag":true}'
    )
    assert valid(schema, ok)
    assert compiled.matches(ok)
    assert not compiled.matches(ok.replace('"v":2', '"v":12'))
    assert not compiled.matches(ok.replace("2024-02-29", "2024-13-01"))
    assert not compiled.matches(ok.replace("true", "1"))


def test_any_json_object_and_additional_properties() -> None:
    compiled = grammar(ANY_JSON_OBJECT)
    assert compiled.matches('{"a": [1, {"b": null}], "c": "d"}')
    assert compiled.matches("{}")
    assert not compiled.matches("[1]")
    assert not compiled.matches('"text"')
    typed = grammar(
        {
            "type": "object",
            "properties": {"a": {"type": "integer"}},
            "additionalProperties": {"type": "boolean"},
        }
    )
    assert typed.matches('{"a": 1, "b": true, "ab": false}')
    assert not typed.matches('{"a": 1, "a": true}')  # a listed key is not an extra one
    assert not typed.matches('{"b": 1}')


def test_arrays_with_item_limits_and_tuples() -> None:
    compiled = grammar(
        {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 3}
    )
    assert compiled.matches("[1, 2]")
    assert compiled.matches("[1,2,3]")
    assert not compiled.matches("[1]")
    assert not compiled.matches("[1,2,3,4]")
    pair = grammar(
        {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False}
    )
    assert pair.matches('["a", 1]')
    assert not pair.matches('[1, "a"]')


@pytest.mark.parametrize(
    ("schema", "keyword", "where"),
    [
        ({"type": "string", "pattern": "^a+$"}, "pattern", "#/pattern"),
        (
            {"type": "object", "properties": {"xs": {"type": "array", "uniqueItems": True}}},
            "uniqueItems",
            "#/properties/xs/uniqueItems",
        ),
        ({"type": "integer", "multipleOf": 3}, "multipleOf", "#/multipleOf"),
        ({"not": {"type": "string"}}, "not", "#/not"),
        (
            {"type": "object", "patternProperties": {"^x": {}}},
            "patternProperties",
            "#/patternProperties",
        ),
    ],
)
def test_keywords_it_cannot_enforce_are_refused_by_name_and_place(
    schema: dict[str, Any], keyword: str, where: str
) -> None:
    with pytest.raises(SchemaError) as caught:
        schema_to_grammar(schema)
    assert isinstance(caught.value, UnsupportedError)
    assert caught.value.http_status == 400
    assert repr(keyword) in str(caught.value)
    assert where in str(caught.value)


@pytest.mark.parametrize(
    "schema",
    [
        False,
        {"type": "integer", "minimum": 5, "maximum": 4},
        {"type": "string", "minLength": 3, "maxLength": 2},
        {"type": "wat"},
        {"$ref": "#/$defs/missing"},
        {"$ref": "https://example.com/schema.json"},
        {"type": "number", "minimum": 1e-30},
    ],
)
def test_unsatisfiable_or_malformed_schemas_are_refused(schema: object) -> None:
    with pytest.raises(SchemaError):
        schema_to_grammar(schema)


def test_annotations_are_ignored() -> None:
    schema = {
        "title": "T",
        "description": "d",
        "type": "object",
        "properties": {
            "a": {"type": "string", "default": "x", "examples": ["y"], "format": "email"}
        },
        "required": ["a"],
        "$schema": "https://json-schema.org/draft/2020-12/schema",
    }
    assert grammar(schema).matches('{"a": "anything"}')
