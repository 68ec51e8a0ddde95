"""Rule conditions: ``and``, ``or``, ``not``, brackets, ``1 of name*``, ``all of them``.

Parsed into a small tree by a recursive-descent parser (never ``eval``), then evaluated
against the set of selections that matched. ``triggers`` tells the engine which
selections must match for a rule to have any chance, so most rules are never evaluated
for a listing that hit none of their terms.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

_TOKEN = re.compile(r"\s*(?:(?P<paren>[()])|(?P<word>[A-Za-z0-9_*.\-]+))")


T = TypeVar("T")


class ConditionError(ValueError):
    """A condition that does not parse; ``column`` is 0-based within the condition."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message)
        self.column = column


@dataclass(frozen=True)
class Name:
    name: str


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class AllOf:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class AnyOf:
    operands: tuple[Node, ...]


Node = Name | Not | AllOf | AnyOf


class _Parser:
    def __init__(self, text: str, names: list[str]) -> None:
        self.text = text
        self.names = names
        self.tokens: list[tuple[str, int]] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                if text[pos:].strip() == "":
                    break
                col = pos + len(text[pos:]) - len(text[pos:].lstrip())
                raise ConditionError(f"unexpected {text[col]!r}", col)
            kind = "paren" if m["paren"] else "word"
            self.tokens.append((m[kind], m.start(kind)))
            pos = m.end()
        self.i = 0
        self.used: set[str] = set()

    def peek(self) -> str | None:
        return self.tokens[self.i][0].lower() if self.i < len(self.tokens) else None

    def column(self) -> int:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else len(self.text)

    def take(self) -> tuple[str, int]:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def parse(self) -> Node:
        if not self.tokens:
            raise ConditionError("the condition is empty", 0)
        node = self.or_()
        if self.i < len(self.tokens):
            word, col = self.tokens[self.i]
            raise ConditionError(f"expected 'and', 'or' or the end, found {word!r}", col)
        return node

    def or_(self) -> Node:
        return self._chain("or", self.and_, AnyOf)

    def and_(self) -> Node:
        return self._chain("and", self.not_, AllOf)

    def _chain(self, word: str, operand: Callable[[], Node],
               node: Callable[[tuple[Node, ...]], Node]) -> Node:
        """``operand (word operand)*``: one operand as it is, more joined by ``node``."""
        parts = [operand()]
        while self.peek() == word:
            self.take()
            parts.append(operand())
        return parts[0] if len(parts) == 1 else node(tuple(parts))

    def not_(self) -> Node:
        if self.peek() == "not":
            self.take()
            return Not(self.not_())
        return self.atom()

    def atom(self) -> Node:
        word = self.peek()
        col = self.column()
        if word is None:
            raise ConditionError("the condition ends too early: a selection name is missing",
                                 col)
        if word == "(":
            self.take()
            node = self.or_()
            if self.peek() != ")":
                raise ConditionError("a '(' is never closed", col)
            self.take()
            return node
        if word == ")":
            raise ConditionError("unexpected ')'", col)
        if word in ("and", "or"):
            raise ConditionError(f"{word!r} needs a selection before it", col)
        self.take()
        if word in ("1", "any", "all") and self.peek() == "of":
            self.take()
            if self.peek() in (None, "(", ")"):
                raise ConditionError(f"'{word} of' needs a name pattern or 'them'",
                                     self.column())
            pattern, pcol = self.take()
            matched = (list(self.names) if pattern.lower() == "them"
                       else fnmatch.filter(self.names, pattern))
            if not matched:
                raise ConditionError(f"no selection matches {pattern!r}", pcol)
            self.used.update(matched)
            operands = tuple(Name(n) for n in matched)
            return AllOf(operands) if word == "all" else AnyOf(operands)
        name = self.tokens[self.i - 1][0]
        if name not in self.names:
            from crawler.yamlfile import hint

            raise ConditionError(f"unknown selection {name!r}{hint(name, self.names)}", col)
        self.used.add(name)
        return Name(name)


Test = Callable[[Callable[[str], bool]], bool]


@dataclass(frozen=True)
class Condition:
    tree: Node
    used: frozenset[str]
    evaluate: Test  # closures built from the tree once: no tree walk per listing

    def triggers(self, hit_based: set[str]) -> frozenset[str] | None:
        """Selections one of which must match for the condition to hold, when every one of
        them only matches on a hit; None when no such set exists (evaluate always)."""
        return _needs(self.tree, hit_based)

    def compile(self, leaf: Callable[[str], Callable[[T], Any]],
                cost: Callable[[str], int] | None = None) -> Callable[[T], Any]:
        """The condition as one closure over ``T``, each selection name tested by the
        closure ``leaf(name)`` returns (anything truthy counts as matched). With ``cost``,
        the operands of each ``and``/``or`` are tried cheapest first: the answer is the
        same (tests have no side effects), and an expensive test is often never run."""
        tree = _cheapest_first(self.tree, cost) if cost is not None else self.tree
        return _compile(tree, leaf)


def parse(text: str, selections: list[str]) -> Condition:
    parser = _Parser(text, selections)
    tree = parser.parse()
    return Condition(tree, frozenset(parser.used),
                     _compile(tree, lambda name: lambda matched: matched(name)))


def _compile(node: Node, leaf: Callable[[str], Callable[[T], Any]]) -> Callable[[T], Any]:
    if isinstance(node, Name):
        return leaf(node.name)
    if isinstance(node, Not):
        inner = _compile(node.operand, leaf)
        return lambda x: not inner(x)
    parts = [_compile(n, leaf) for n in node.operands]
    # nested pairs short-circuit like the written condition, without a generator per call
    test = parts[-1]
    for part in reversed(parts[:-1]):
        test = _both(part, test) if isinstance(node, AllOf) else _either(part, test)
    return test


def _cheapest_first(node: Node, cost: Callable[[str], int]) -> Node:
    if isinstance(node, Name):
        return node
    if isinstance(node, Not):
        return Not(_cheapest_first(node.operand, cost))
    operands = sorted((_cheapest_first(n, cost) for n in node.operands),
                      key=lambda n: _cost(n, cost))  # stable: equal costs keep their order
    return AllOf(tuple(operands)) if isinstance(node, AllOf) else AnyOf(tuple(operands))


def _cost(node: Node, cost: Callable[[str], int]) -> int:
    if isinstance(node, Name):
        return cost(node.name)
    if isinstance(node, Not):
        return _cost(node.operand, cost)
    return sum(_cost(n, cost) for n in node.operands)


def _both(a: Callable[[T], Any], b: Callable[[T], Any]) -> Callable[[T], Any]:
    return lambda x: a(x) and b(x)


def _either(a: Callable[[T], Any], b: Callable[[T], Any]) -> Callable[[T], Any]:
    return lambda x: a(x) or b(x)


def _needs(node: Node, hit_based: set[str]) -> frozenset[str] | None:
    if isinstance(node, Name):
        return frozenset([node.name]) if node.name in hit_based else None
    if isinstance(node, Not):
        return None
    if isinstance(node, AllOf):
        options = [s for s in (_needs(n, hit_based) for n in node.operands) if s is not None]
        return min(options, key=len) if options else None
    sets = [_needs(n, hit_based) for n in node.operands]
    if any(s is None for s in sets):
        return None
    return frozenset().union(*[s for s in sets if s is not None])
