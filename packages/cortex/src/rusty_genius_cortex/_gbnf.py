"""GBNF building blocks: literals, repetitions and numeric ranges as grammar text.

Pure functions that return GBNF expressions (llama.cpp's grammar format, see
``grammars/README.md`` in llama.cpp); :mod:`._json_grammar` assembles them into
rules. The integer ranges follow llama.cpp's ``build_min_max_int``
(``common/json-schema-to-grammar.cpp``): a bound is enforced by the digit
structure, not checked afterwards. Decimal ranges extend the same idea to the
fraction digits, which llama.cpp leaves unbounded.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Final

__all__ = [
    "FRACTION_DIGITS",
    "INT_DIGITS",
    "decimal_range",
    "format_literal",
    "int_range",
    "repetition",
]

INT_DIGITS: Final = 16
"""At most this many digits in an integer part (as llama.cpp's ``integral-part``)."""
FRACTION_DIGITS: Final = 16
"""At most this many digits after the decimal point."""

_ESCAPES: Final = {"\r": "\\r", "\n": "\\n", '"': '\\"', "\\": "\\\\"}


def format_literal(text: str) -> str:
    """``text`` as a GBNF string literal."""
    return '"' + "".join(_ESCAPES.get(c, c) for c in text) + '"'


def json_literal(value: object) -> str:
    """The GBNF literal of ``value`` written as compact JSON (``const``, ``enum``, keys)."""
    return format_literal(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def repetition(item: str, min_items: int, max_items: int | None, separator: str = "") -> str:
    """``item`` repeated ``min_items`` to ``max_items`` times (``None``: no limit)."""
    if max_items == 0:
        return ""
    if min_items == 0 and max_items == 1:
        return f"{item}?"
    if not separator:
        if max_items is None:
            return (
                f"{item}+"
                if min_items == 1
                else f"{item}*"
                if min_items == 0
                else (f"{item}{{{min_items},}}")
            )
        if min_items == max_items:
            return f"{item}{{{min_items}}}"
        return f"{item}{{{min_items},{max_items}}}"
    rest = repetition(
        f"({separator} {item})",
        max(min_items - 1, 0),
        None if max_items is None else max_items - 1,
    )
    result = f"{item} {rest}".rstrip()
    return f"({result})?" if min_items == 0 else result


def _digits(lo: int, hi: int | None) -> str:
    """``[0-9]`` repeated ``lo`` to ``hi`` times."""
    if hi is not None and hi <= 0:
        return ""
    if lo == hi == 1:
        return "[0-9]"
    if hi is None:
        return f"[0-9]{{{lo},}}"
    if lo == hi:
        return f"[0-9]{{{lo}}}"
    return f"[0-9]{{{lo},{hi}}}"


def _span(a: str, b: str) -> str:
    return f"[{a}]" if a == b else f"[{a}-{b}]"


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def _uniform(lo: str, hi: str) -> str:
    """Digit strings of one length between ``lo`` and ``hi`` inclusive (same length)."""
    i = 0
    while i < len(lo) and lo[i] == hi[i]:
        i += 1
    prefix = f'"{lo[:i]}"' if i else ""
    if i == len(lo):
        return prefix
    rest = len(lo) - i - 1
    a, b = lo[i], hi[i]
    if rest == 0:
        return _join(prefix, _span(a, b))
    lo_rest, hi_rest = lo[i + 1 :], hi[i + 1 :]
    lo_full, hi_full = lo_rest == "0" * rest, hi_rest == "9" * rest
    alts = []
    start, end = ord(a), ord(b)
    if not lo_full:  # a, then at least lo_rest
        alts.append(_join(f"[{a}]", f"({_uniform(lo_rest, '9' * rest)})"))
        start += 1
    if not hi_full:
        end -= 1
    if start <= end:  # digits whose every continuation fits
        alts.append(_join(_span(chr(start), chr(end)), _digits(rest, rest)))
    if not hi_full:  # b, then at most hi_rest
        alts.append(_join(f"[{b}]", f"({_uniform('0' * rest, hi_rest)})"))
    body = " | ".join(alts)
    return _join(prefix, f"({body})" if len(alts) > 1 else body)


def _nonneg_range(lo: int, hi: int | None) -> str:
    """Integers (no sign, no leading zeros) from ``lo`` to ``hi`` (``None``: up to INT_DIGITS)."""
    hi_s = "9" * INT_DIGITS if hi is None else str(hi)
    lo_s = str(lo)
    alts = []
    for width in range(len(lo_s), len(hi_s)):
        alts.append(_uniform(lo_s, "9" * width))
        lo_s = "1" + "0" * width
    alts.append(_uniform(lo_s, hi_s))
    return " | ".join(f"({a})" if "|" in a else a for a in alts)


def int_range(lo: int | None, hi: int | None) -> str:
    """A JSON integer between ``lo`` and ``hi`` inclusive (``None``: unbounded on that side).

    Magnitudes are capped at :data:`INT_DIGITS` digits, as llama.cpp caps them.
    """
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"empty integer range [{lo}, {hi}]")
    alts = []
    if lo is None or lo < 0:  # the negative side: "-" then a magnitude
        mag_hi = None if lo is None else -lo
        mag_lo = 1 if hi is None or hi >= 0 else -hi
        alts.append(f'"-" ({_nonneg_range(mag_lo, mag_hi)})')
    if hi is None or hi >= 0:
        alts.append(_nonneg_range(max(lo or 0, 0), hi))
    return " | ".join(f"({a})" if "|" in a else a for a in alts)


# -- decimals --------------------------------------------------------------------------------


def _frac_cmp(bound: str, op: str, n: int) -> tuple[bool, str | None]:
    """Fraction digit strings ``f`` (0 to ``n`` digits) with ``0.f op 0.bound``.

    Returns (the empty fraction qualifies, an expression for the non-empty ones or None).
    ``op`` is one of ``ge``, ``gt``, ``le``, ``lt``.
    """
    zero = not bound.strip("0")
    eps = {"ge": zero, "gt": False, "le": True, "lt": not zero}[op]
    if n == 0:
        return eps, None
    if zero:  # the bound is 0: every string, only the zero strings, or the nonzero ones
        if op == "ge":
            return True, _digits(1, n)
        if op == "le":
            return True, f"[0]{{1,{n}}}" if n > 1 else "[0]"
        if op == "lt":
            return False, None
        return False, _join(f"[0]{{0,{n - 1}}}" if n > 1 else "", "[1-9]", _digits(0, n - 1))
    d, rest = int(bound[0]), bound[1:]
    alts = []
    if op in ("ge", "gt") and d < 9:
        alts.append(_join(_span(str(d + 1), "9"), _digits(0, n - 1)))
    if op in ("le", "lt") and d > 0:
        alts.append(_join(_span("0", str(d - 1)), _digits(0, n - 1)))
    sub_eps, sub = _frac_cmp(rest, op, n - 1)
    head = f'"{d}"'
    if sub is not None:
        alts.append(f"{head} ({sub})?" if sub_eps else f"{head} ({sub})")
    elif sub_eps:
        alts.append(head)
    return eps, " | ".join(alts) if alts else None


def _frac_between(lo: str, hi: str, lo_op: str, hi_op: str, n: int) -> tuple[bool, str | None]:
    """Fraction strings with ``0.lo lo_op f`` and ``f hi_op 0.hi`` (``lo <= hi``)."""
    lo_eps, _ = _frac_cmp(lo, lo_op, 0)
    hi_eps, _ = _frac_cmp(hi, hi_op, 0)
    eps = lo_eps and hi_eps
    if n == 0:
        return eps, None
    if not lo.strip("0"):
        if lo_op == "ge":
            return _frac_cmp(hi, hi_op, n)
        return False, _frac_nonzero_below(hi, hi_op, n)
    a, b = lo[0], (hi[:1] or "0")
    lo_rest, hi_rest = lo[1:], hi[1:]
    alts = []
    if a == b:
        sub_eps, sub = _frac_between(lo_rest, hi_rest, lo_op, hi_op, n - 1)
        if sub is not None:
            alts.append(f'"{a}" ({sub})?' if sub_eps else f'"{a}" ({sub})')
        elif sub_eps:
            alts.append(f'"{a}"')
        return eps, " | ".join(alts) if alts else None
    for digit, rest, op in ((a, lo_rest, lo_op), (b, hi_rest, hi_op)):
        sub_eps, sub = _frac_cmp(rest, op, n - 1)
        if sub is not None:
            alts.append(f'"{digit}" ({sub})?' if sub_eps else f'"{digit}" ({sub})')
        elif sub_eps:
            alts.append(f'"{digit}"')
    if int(b) - int(a) > 1:
        alts.append(_join(_span(str(int(a) + 1), str(int(b) - 1)), _digits(0, n - 1)))
    return eps, " | ".join(alts) if alts else None


def _frac_nonzero_below(hi: str, hi_op: str, n: int) -> str | None:
    """Nonzero fraction strings ``f`` (1 to ``n`` digits) with ``0.f hi_op 0.hi``."""
    if n == 0:
        return None
    d = int(hi[0]) if hi else 0
    if d == 0:
        rest = _frac_nonzero_below(hi[1:], hi_op, n - 1)
        return None if rest is None else f'"0" ({rest})'
    _, nonzero = _frac_cmp("", "gt", n - 1)
    alts = [f'"0" ({nonzero})'] if nonzero is not None else []
    if d > 1:
        alts.append(_join(_span("1", str(d - 1)), _digits(0, n - 1)))
    sub_eps, sub = _frac_cmp(hi[1:], hi_op, n - 1)
    if sub is not None:
        alts.append(f'"{d}" ({sub})?' if sub_eps else f'"{d}" ({sub})')
    elif sub_eps:
        alts.append(f'"{d}"')
    return " | ".join(alts) if alts else None


def _split(value: Decimal) -> tuple[int, str]:
    """A non-negative decimal as (integer part, fraction digits)."""
    text = format(value, "f")
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    if len(frac) > FRACTION_DIGITS:
        raise ValueError(f"the bound {value} has more than {FRACTION_DIGITS} decimal places")
    return int(whole), frac


def _fraction(eps: bool, expr: str | None) -> str | None:
    """The optional ``"." digits`` part, or None when no fraction qualifies."""
    if expr is None:
        return "" if eps else None
    return f'("." ({expr}))?' if eps else f'"." ({expr})'


def _magnitude(lo: Decimal, lo_strict: bool, hi: Decimal | None, hi_strict: bool) -> str | None:
    """Unsigned decimals ``m`` with ``lo <(=) m <(=) hi``; None when there are none."""
    lo_i, lo_f = _split(lo)
    lo_op = "gt" if lo_strict else "ge"
    hi_op = "lt" if hi_strict else "le"
    alts = []
    if hi is not None:
        hi_i, hi_f = _split(hi)
        if lo_i == hi_i:
            frac = _fraction(*_frac_between(lo_f, hi_f, lo_op, hi_op, FRACTION_DIGITS))
            return None if frac is None else _join(f'"{lo_i}"', frac)
        top = _fraction(*_frac_cmp(hi_f, hi_op, FRACTION_DIGITS))
        if top is not None:
            alts.append(_join(f'"{hi_i}"', top))
    else:
        hi_i = None
    bottom = _fraction(*_frac_cmp(lo_f, lo_op, FRACTION_DIGITS))
    if bottom is not None:
        alts.append(_join(f'"{lo_i}"', bottom))
    middle_hi = None if hi_i is None else hi_i - 1
    if middle_hi is None or middle_hi >= lo_i + 1:
        any_frac = f'("." {_digits(1, FRACTION_DIGITS)})?'
        alts.append(_join(f"({_nonneg_range(lo_i + 1, middle_hi)})", any_frac))
    return " | ".join(f"({a})" for a in alts) if alts else None


def decimal_range(lo: Decimal | None, lo_strict: bool, hi: Decimal | None, hi_strict: bool) -> str:
    """A JSON number (no exponent) within the bounds (``None``: unbounded on that side).

    ``ValueError`` when no number qualifies.
    """
    alts = []
    zero = Decimal(0)
    if lo is None or lo < 0:  # negative numbers: "-" then a magnitude m, value -m
        m_hi, m_hi_strict = (None, False) if lo is None else (-lo, lo_strict)
        if hi is None or hi > 0:
            m_lo, m_lo_strict = zero, False
        else:
            m_lo, m_lo_strict = -hi, hi_strict
        if m_hi is None or m_lo < m_hi or (m_lo == m_hi and not (m_lo_strict or m_hi_strict)):
            mag = _magnitude(m_lo, m_lo_strict, m_hi, m_hi_strict)
            if mag is not None:
                alts.append(f'"-" ({mag})')
    if hi is None or hi > 0 or (hi == 0 and not hi_strict):
        p_lo, p_lo_strict = (zero, False) if lo is None or lo < 0 else (lo, lo_strict)
        if hi is None or p_lo < hi or (p_lo == hi and not (p_lo_strict or hi_strict)):
            mag = _magnitude(p_lo, p_lo_strict, hi, hi_strict)
            if mag is not None:
                alts.append(mag)
    if not alts:
        raise ValueError("no number lies within the bounds")
    return " | ".join(f"({a})" for a in alts)
