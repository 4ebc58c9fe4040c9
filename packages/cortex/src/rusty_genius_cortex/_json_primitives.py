"""The fixed GBNF rules JSON values are built from, as llama.cpp's json-schema-to-grammar has them.

``PRIMITIVES`` maps a rule's name to its body and the rules it uses: any JSON
value, strings (``char`` excludes control characters and allows JSON's escapes),
numbers (at most 16 integer and 16 fraction digits), and the string formats
``date``, ``time``, ``date-time`` and ``uuid``.
"""

from __future__ import annotations

from typing import Final

__all__ = ["FORMATS", "FORMATS_ALSO", "PRIMITIVES"]

PRIMITIVES: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "boolean": ('"true" | "false"', ()),
    "null": ('"null"', ()),
    "decimal-part": ("[0-9]{1,16}", ()),
    "integral-part": ("[0] | [1-9] [0-9]{0,15}", ()),
    "number": (
        '("-"? integral-part) ("." decimal-part)? ([eE] [-+]? integral-part)?',
        ("integral-part", "decimal-part"),
    ),
    "integer": ('"-"? integral-part', ("integral-part",)),
    "char": (r'[^"\\\x7F\x00-\x1F] | [\\] (["\\/bfnrt] | "u" [0-9a-fA-F]{4})', ()),
    "string": ('"\\"" char* "\\""', ("char",)),
    "value": (
        "object | array | string | number | boolean | null",
        ("object", "array", "string", "number", "boolean", "null"),
    ),
    "object": (
        '"{" space ( string ":" space value ("," space string ":" space value)* )? space "}"',
        ("string", "value"),
    ),
    "array": ('"[" space ( value ("," space value)* )? space "]"', ("value",)),
    "uuid": (
        '"\\"" [0-9a-fA-F]{8} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} '
        '"-" [0-9a-fA-F]{12} "\\""',
        (),
    ),
    "date": (
        '[0-9]{4} "-" ( "0" [1-9] | "1" [0-2] ) "-" ( "0" [1-9] | [1-2] [0-9] | "3" [0-1] )',
        (),
    ),
    "time": (
        '([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ( "." [0-9]{3} )? '
        '( "Z" | ( "+" | "-" ) ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] )',
        (),
    ),
    "date-time": ('date "T" time', ("date", "time")),
    "date-string": ('"\\"" date "\\""', ("date",)),
    "time-string": ('"\\"" time "\\""', ("time",)),
    "date-time-string": ('"\\"" date-time "\\""', ("date-time",)),
}
FORMATS: Final = {"date": "date-string", "time": "time-string", "date-time": "date-time-string"}
FORMATS_ALSO: Final = {"uuid": "uuid"}
