"""A small recognizer for llama.cpp's GBNF grammars, for tests that need no model.

``GbnfGrammar(text).matches(s)`` says whether the whole string ``s`` is in the
language of the rule ``root`` (or another rule). It reads the grammar as
llama.cpp's ``llama-grammar.cpp`` parser does (literals, character classes with
ranges and negation, groups, alternatives, ``? * + {m} {m,} {m,n}``, rule
references, comments) and matches by sets of end positions, memoised per rule
and position, so ambiguity costs no backtracking blow-up. Left recursion is not
supported (llama.cpp rejects it too).
"""

from __future__ import annotations

from typing import Final

__all__ = ["GbnfGrammar", "GbnfSyntaxError"]

_ESCAPES: Final = {
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "\\": "\\",
    '"': '"',
    "[": "[",
    "]": "]",
    "-": "-",
}

Node = tuple[object, ...]


class GbnfSyntaxError(ValueError):
    """The grammar text is not valid GBNF."""


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def ws(self, newlines: bool) -> None:
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c == "#":
                while self.i < len(s) and s[self.i] != "\n":
                    self.i += 1
            elif c in " \t" or (newlines and c in "\r\n"):
                self.i += 1
            else:
                break

    def name(self) -> str:
        start = self.i
        while self.i < len(self.s) and (self.s[self.i].isalnum() or self.s[self.i] in "-_"):
            self.i += 1
        if start == self.i:
            raise GbnfSyntaxError(f"expected a name at {self.i}: {self.s[self.i : self.i + 20]!r}")
        return self.s[start : self.i]

    def char(self) -> str:
        s = self.s
        c = s[self.i]
        if c != "\\":
            self.i += 1
            return c
        e = s[self.i + 1]
        if e in "xuU":
            n = {"x": 2, "u": 4, "U": 8}[e]
            value = chr(int(s[self.i + 2 : self.i + 2 + n], 16))
            self.i += 2 + n
            return value
        if e not in _ESCAPES:
            raise GbnfSyntaxError(f"unknown escape \\{e} at {self.i}")
        self.i += 2
        return _ESCAPES[e]

    def alternatives(self, nested: bool) -> Node:
        seqs = [self.sequence(nested)]
        while self.i < len(self.s) and self.s[self.i] == "|":
            self.i += 1
            self.ws(nested)
            seqs.append(self.sequence(nested))
        return ("alt", seqs)

    def sequence(self, nested: bool) -> Node:
        items: list[Node] = []
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c == '"':
                self.i += 1
                text = []
                while s[self.i] != '"':
                    text.append(self.char())
                self.i += 1
                atom: Node = ("lit", "".join(text))
            elif c == "[":
                self.i += 1
                negated = s[self.i] == "^"
                if negated:
                    self.i += 1
                ranges = []
                while s[self.i] != "]":
                    a = self.char()
                    b = a
                    if s[self.i] == "-" and s[self.i + 1] != "]":
                        self.i += 1
                        b = self.char()
                    ranges.append((a, b))
                self.i += 1
                atom = ("cls", negated, tuple(ranges))
            elif c == "(":
                self.i += 1
                self.ws(True)
                atom = self.alternatives(True)
                if s[self.i] != ")":
                    raise GbnfSyntaxError(f"expected ')' at {self.i}")
                self.i += 1
            elif c == ".":
                self.i += 1
                atom = ("cls", True, ())
            elif c.isalnum() or c in "-_":
                save = self.i
                self.name()
                self.ws(False)
                if self.s.startswith("::=", self.i):  # the next rule starts here
                    self.i = save
                    break
                self.i = save
                atom = ("ref", self.name())
            else:
                break
            self.ws(nested)
            atom = self.quantified(atom, nested)
            items.append(atom)
        return ("seq", items)

    def quantified(self, atom: Node, nested: bool) -> Node:
        s = self.s
        while self.i < len(s) and s[self.i] in "?*+{":
            c = s[self.i]
            self.i += 1
            if c == "?":
                atom = ("rep", atom, 0, 1)
            elif c == "*":
                atom = ("rep", atom, 0, None)
            elif c == "+":
                atom = ("rep", atom, 1, None)
            else:
                end = s.index("}", self.i)
                body = s[self.i : end].replace(" ", "")
                self.i = end + 1
                lo_s, comma, hi_s = body.partition(",")
                lo = int(lo_s)
                hi = (int(hi_s) if hi_s else None) if comma else lo
                atom = ("rep", atom, lo, hi)
            self.ws(nested)
        return atom


def _parse(text: str) -> dict[str, Node]:
    p = _Parser(text)
    rules: dict[str, Node] = {}
    p.ws(True)
    while p.i < len(text):
        name = p.name()
        p.ws(False)
        if not text.startswith("::=", p.i):
            raise GbnfSyntaxError(f"expected ::= after {name!r} at {p.i}")
        p.i += 3
        p.ws(False)
        rules[name] = p.alternatives(False)
        p.ws(True)
    return rules


class GbnfGrammar:
    """A parsed GBNF grammar; :meth:`matches` tests whole strings against a rule."""

    def __init__(self, text: str) -> None:
        self.rules = _parse(text)
        for name in self._refs():
            if name not in self.rules:
                raise GbnfSyntaxError(f"undefined rule {name!r}")

    def _refs(self) -> set[str]:
        out: set[str] = set()

        def walk(node: Node) -> None:
            kind = node[0]
            if kind == "ref":
                out.add(str(node[1]))
            elif kind in ("alt", "seq"):
                for child in node[1]:  # type: ignore[attr-defined]
                    walk(child)
            elif kind == "rep":
                walk(node[1])  # type: ignore[arg-type]

        for rule in self.rules.values():
            walk(rule)
        return out

    def matches(self, s: str, root: str = "root") -> bool:
        """Whether all of ``s`` derives from ``root``."""
        memo: dict[tuple[str, int], frozenset[int]] = {}
        return len(s) in self._match(("ref", root), s, 0, memo)

    def _match(
        self, node: Node, s: str, pos: int, memo: dict[tuple[str, int], frozenset[int]]
    ) -> frozenset[int]:
        kind = node[0]
        if kind == "lit":
            text = str(node[1])
            return frozenset({pos + len(text)}) if s.startswith(text, pos) else frozenset()
        if kind == "cls":
            if pos >= len(s):
                return frozenset()
            c = s[pos]
            hit = any(a <= c <= b for a, b in node[2])  # type: ignore[attr-defined]
            return frozenset({pos + 1}) if hit != node[1] else frozenset()
        if kind == "ref":
            key = (str(node[1]), pos)
            if key not in memo:
                memo[key] = frozenset()  # a left-recursive path matches nothing
                memo[key] = self._match(self.rules[key[0]], s, pos, memo)
            return memo[key]
        if kind == "alt":
            out: set[int] = set()
            for seq in node[1]:  # type: ignore[attr-defined]
                out |= self._match(seq, s, pos, memo)
            return frozenset(out)
        if kind == "seq":
            ends = frozenset({pos})
            for item in node[1]:  # type: ignore[attr-defined]
                nxt: set[int] = set()
                for p in ends:
                    nxt |= self._match(item, s, p, memo)
                ends = frozenset(nxt)
                if not ends:
                    break
            return ends
        assert kind == "rep"
        item, lo = node[1], int(node[2])  # type: ignore[call-overload]
        hi = node[3] if isinstance(node[3], int) else None
        result: set[int] = {pos} if lo == 0 else set()
        frontier = frozenset({pos})
        count = 0
        seen: set[int] = set()
        while frontier and (hi is None or count < hi):
            count += 1
            nxt = set()
            for p in frontier:
                nxt |= self._match(item, s, p, memo)  # type: ignore[arg-type]
            if hi is None:
                nxt -= seen
                seen |= nxt
            frontier = frozenset(nxt)
            if count >= lo:
                result |= frontier
        return frozenset(result)
