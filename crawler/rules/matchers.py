"""Every term of a rule set, compiled once, and matched against a listing field in one pass
per kind: an Aho-Corasick automaton per fold (``words``, ``plain``), a memoised fuzzy
lookup per word (``fuzzy``), an RE2 set (``regex``).

A hit is keyed by a *list key*: a named list, or ``rule-id/selection`` for inline terms.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import ahocorasick
import re2
from rapidfuzz.distance import OSA

from crawler.rules import text

RE2_OPTIONS = re2.Options()
RE2_OPTIONS.log_errors = False  # a refused pattern is reported as a load error instead
# folds per mode; regexes see the plain fold (lowercased, accents removed)
FOLD = {"words": text.deep, "fuzzy": text.deep, "plain": text.plain, "regex": text.plain}


def fuzzy_budget(term: str) -> int:
    """Edits allowed for a term of this length: none up to 3 letters, then one per 4."""
    return min(2, len(term) // 4)


def compile_regex(pattern: str) -> Any:
    """RE2 only: a pattern RE2 refuses raises ``re2.error`` (no fallback to ``re``)."""
    return re2.compile(pattern, options=RE2_OPTIONS)


@dataclass
class Hit:
    start: int  # in the folded text
    end: int
    term: str  # the list's term as written


Payload = tuple[tuple[str, str], ...]  # (list key, term as written) for one folded term


@dataclass
class FieldHits:
    """What the matchers found in one field: which list keys hit, and where (worked out
    only when asked, since most hits are only tested, never shown)."""

    keys: set[str] = field(default_factory=set)
    raw: list[tuple[int, int, Payload]] = field(default_factory=list)
    folds: dict[str, text.Folded] = field(default_factory=dict)  # mode -> folded field

    def spans(self, key: str) -> list[Hit]:
        return [Hit(start, end, written) for start, end, payload in self.raw
                for k, written in payload if k == key]


def _needs_boundary(char: str) -> bool:
    # CJK text has no spaces between words: a CJK term may sit inside a run of CJK
    return (char.isalnum() or char == "_") and ord(char) < 0x2E80


class Matchers:
    """The compiled terms of one rule set."""

    def __init__(self) -> None:
        self._terms: dict[str, dict[str, list[tuple[str, str]]]] = {
            "words": defaultdict(list), "plain": defaultdict(list)}
        self._automata: dict[str, Any] = {}
        self._fuzzy: list[tuple[str, str, str, int, frozenset[str]]] = []
        self._fuzzy_cache: dict[str, list[tuple[str, str]]] = {}
        self._regexes: list[tuple[str, str, Any]] = []
        self._regex_set: Any = None
        self.values: dict[str, frozenset[str]] = {}
        self.modes_by_field: dict[str, set[str]] = defaultdict(set)

    # -- building -------------------------------------------------------------------------

    def add(self, key: str, mode: str, terms: Iterable[tuple[str, frozenset[str], int]],
            fields: Iterable[str]) -> None:
        """Add list ``key``: (term, deny words, fuzzy budget) in ``mode``, used on ``fields``."""
        terms = list(terms)
        for f in fields:
            self.modes_by_field[f].add(mode)
        if mode in ("words", "plain"):
            for term, _deny, _budget in terms:
                folded = text.fold_term(term, mode)
                if folded:
                    self._terms[mode][folded].append((key, term))
        elif mode == "fuzzy":
            for term, deny, budget in terms:
                folded = text.fold_term(term, mode)
                self._fuzzy.append((key, term, folded, budget,
                                    frozenset(text.fold_term(d, mode) for d in deny)))
        elif mode == "regex":
            for term, _deny, _budget in terms:
                self._regexes.append((key, term, compile_regex(term)))
        elif mode == "values":
            self.values[key] = frozenset(text.plain(t).text for t in
                                         (t for t, _d, _b in terms))

    def build(self) -> None:
        for mode, terms in self._terms.items():
            if terms:
                automaton = ahocorasick.Automaton()
                for folded, payload in terms.items():
                    automaton.add_word(folded, (len(folded), tuple(payload),
                                                frozenset(k for k, _ in payload),
                                                _needs_boundary(folded[0]),
                                                _needs_boundary(folded[-1])))
                automaton.make_automaton()
                self._automata[mode] = automaton
        if self._regexes:
            regex_set = re2.Set.SearchSet(RE2_OPTIONS)
            for _key, pattern, _compiled in self._regexes:
                regex_set.Add(pattern)
            regex_set.Compile()
            self._regex_set = regex_set

    # -- matching -------------------------------------------------------------------------

    def scan(self, field_name: str, value: str) -> FieldHits:
        """Every hit of every list in one field's text."""
        out = FieldHits()
        for mode in self.modes_by_field.get(field_name, ()):
            if mode == "values":
                continue
            folded = FOLD[mode](value)
            out.folds[mode] = folded
            if mode in ("words", "plain"):
                automaton = self._automata.get(mode)
                if automaton is not None:
                    self._scan_terms(automaton, folded.text, out)
            elif mode == "fuzzy":
                self._scan_fuzzy(folded.text, out)
            elif mode == "regex" and self._regex_set is not None:
                for i in self._regex_set.Match(folded.text) or ():
                    key, pattern, compiled = self._regexes[i]
                    m = compiled.search(folded.text)
                    if m is not None:
                        out.keys.add(key)
                        out.raw.append((m.start(), m.end(), ((key, pattern),)))
        return out

    @staticmethod
    def _scan_terms(automaton: Any, folded: str, out: FieldHits) -> None:
        last = len(folded) - 1
        keys, raw = out.keys, out.raw
        for end, (size, payload, payload_keys, start_bound, end_bound) in automaton.iter(
                folded):
            start = end - size + 1
            if start_bound and start > 0:
                before = folded[start - 1]
                if before.isalnum() or before == "_":
                    continue
            if end_bound and end < last:
                after = folded[end + 1]
                if after.isalnum() or after == "_":
                    continue
            keys.update(payload_keys)
            raw.append((start, end + 1, payload))

    def _scan_fuzzy(self, folded: str, out: FieldHits) -> None:
        if not self._fuzzy:
            return
        cache = self._fuzzy_cache
        hits: dict[str, list[tuple[str, str]]] = {}
        for word in set(text.WORD.findall(folded)):
            if word.isdigit():  # fuzzy terms are names: a number is never a misspelt one
                continue
            found = cache.get(word)
            if found is None:
                found = self._fuzzy_lookup(word)
                if len(cache) > 200_000:  # a long backtest must not grow without bound
                    cache.clear()
                cache[word] = found
            if found:
                hits[word] = found
        if hits:  # positions only for the few words that hit
            for m in text.WORD.finditer(folded):
                payload = hits.get(m.group())
                if payload:
                    out.keys.update(k for k, _ in payload)
                    out.raw.append((m.start(), m.end(), tuple(payload)))

    def _fuzzy_lookup(self, word: str) -> list[tuple[str, str]]:
        out = []
        for key, written, folded, budget, deny in self._fuzzy:
            if abs(len(word) - len(folded)) > budget or word in deny:
                continue
            if word != folded and len(word) < 4:  # "ace" is not a misspelt "acme"
                continue
            if word == folded or (budget and OSA.distance(word, folded,
                                                           score_cutoff=budget) <= budget):
                out.append((key, written))
        return out
