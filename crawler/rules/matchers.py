"""Every term of a rule set, compiled once, and matched against a listing field in one pass
per kind: an Aho-Corasick automaton per fold (``words``, ``plain``), a memoised fuzzy
lookup per word (``fuzzy``), an RE2 set (``regex``).

Whether a list hit is all most listings need, so a scan finds only that; where each hit
is (for explain and stored verdicts) is worked out when first asked for. For ASCII text
(most folded titles) the term lists' hits come from an RE2 set of ``\\bterm\\b`` patterns,
one call into C instead of a Python step per Aho-Corasick match; other text, and the
positions, go through the automaton with its Unicode word-boundary checks.

A hit is keyed by a *list key*: a named list, or ``rule-id/selection`` for inline terms.
Each key also has a bit, and a field's scan ORs the bits of the keys it hit into one
integer, so the engine tests "did this list hit" with one ``&``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import ahocorasick
import re2
from rapidfuzz.distance import OSA

from crawler.rules import text
from crawler.rules.hits import FieldHits, Payload, Raw

RE2_OPTIONS = re2.Options()
RE2_OPTIONS.log_errors = False  # a refused pattern is reported as a load error instead
# folds per mode; regexes see the plain fold (lowercased, accents removed), ``raw``
# regexes the text exactly as the listing wrote it (zero-width characters and all)
FOLD = {"words": text.deep, "fuzzy": text.deep, "plain": text.plain, "regex": text.plain,
        "raw": text.raw}
REGEX_MODES = ("regex", "raw")
# the same folds without their caches, for a listing's fields: each field's text is new,
# and FieldHits keeps one fold per kind for the modes that share it
_FOLD_ONCE = {mode: fold.__wrapped__ for mode, fold in FOLD.items()}
_SHARES_FOLD = {mode: other for mode, fold in FOLD.items() for other, same in FOLD.items()
                if other != mode and same is fold}


def fuzzy_budget(term: str) -> int:
    """Edits allowed for a term of this length: none up to 3 letters, then one per 4."""
    return min(2, len(term) // 4)


def compile_regex(pattern: str) -> Any:
    """RE2 only: a pattern RE2 refuses raises ``re2.error`` (no fallback to ``re``)."""
    return re2.compile(pattern, options=RE2_OPTIONS)


def _needs_boundary(char: str) -> bool:
    # CJK text has no spaces between words: a CJK term may sit inside a run of CJK
    return (char.isalnum() or char == "_") and ord(char) < 0x2E80


def _term_set(masks: dict[str, int]) -> tuple[Any, list[int]] | None:
    """An RE2 set of the ASCII terms as ``\\bterm\\b`` (RE2's ``\\b`` is ASCII, exactly the
    automaton's boundary rule on ASCII text), with each pattern's mask; None when RE2 cannot
    build it, and the automaton does the work."""
    options = re2.Options()
    options.log_errors = False
    options.max_mem = 64 << 20
    regex_set = re2.Set.SearchSet(options)
    kept: list[int] = []
    probe = []
    for folded, mask in masks.items():
        if not folded.isascii():
            continue  # never in ASCII text
        pattern = re2.escape(folded)
        if _needs_boundary(folded[0]):
            pattern = r"\b" + pattern
        if _needs_boundary(folded[-1]):
            pattern += r"\b"
        regex_set.Add(pattern)
        kept.append(mask)
        probe.append(folded)
    if not kept:
        return None
    try:
        regex_set.Compile()
    except re2.error:
        return None
    # RE2 answers "no match" when its DFA cannot be built: make sure it can
    if not regex_set.Match(f" {probe[0]} "):
        return None
    return regex_set, kept


class Matchers:
    """The compiled terms of one rule set."""

    def __init__(self) -> None:
        self._terms: dict[str, dict[str, list[tuple[str, str]]]] = {
            "words": defaultdict(list), "plain": defaultdict(list)}
        self._automata: dict[str, Any] = {}
        self._sets: dict[str, tuple[Any, list[int]]] = {}  # mode -> (RE2 set, term masks)
        self._fuzzy: list[tuple[str, str, str, int, frozenset[str]]] = []
        self._fuzzy_cache: dict[str, tuple[Payload, int]] = {}
        # per regex mode: (key, pattern, compiled), then the mode's RE2 set and key bits
        self._regexes: dict[str, list[tuple[str, str, Any]]] = defaultdict(list)
        self._regex_sets: dict[str, tuple[Any, list[int]]] = {}
        self._field_modes: dict[str, tuple[str, ...]] = {}
        self.values: dict[str, frozenset[str]] = {}
        self.modes_by_field: dict[str, set[str]] = defaultdict(set)
        self.bits: dict[str, int] = {}  # list key -> its bit in ``FieldHits.mask``

    def bit(self, key: str) -> int:
        found = self.bits.get(key)
        if found is None:
            found = self.bits[key] = 1 << len(self.bits)
        return found

    def mask(self, keys: Iterable[str]) -> int:
        out = 0
        for key in keys:
            out |= self.bit(key)
        return out

    # -- building -------------------------------------------------------------------------

    def add(self, key: str, mode: str, terms: Iterable[tuple[str, frozenset[str], int]],
            fields: Iterable[str]) -> None:
        """Add list ``key``: (term, deny words, fuzzy budget) in ``mode``, used on ``fields``."""
        terms = list(terms)
        if mode != "values":
            self.bit(key)  # every key's bit is fixed at load, before any scan
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
        elif mode in REGEX_MODES:
            for term, _deny, _budget in terms:
                self._regexes[mode].append((key, term, compile_regex(term)))
        elif mode == "values":
            self.values[key] = frozenset(text.plain(t).text for t in
                                         (t for t, _d, _b in terms))

    def build(self) -> None:
        for mode, terms in self._terms.items():
            if terms:
                automaton = ahocorasick.Automaton()
                for folded, payload in terms.items():
                    automaton.add_word(folded, (len(folded), tuple(payload),
                                                self.mask(k for k, _ in payload),
                                                _needs_boundary(folded[0]),
                                                _needs_boundary(folded[-1])))
                automaton.make_automaton()
                self._automata[mode] = automaton
                ascii_set = _term_set({folded: self.mask(k for k, _ in payload)
                                       for folded, payload in terms.items()})
                if ascii_set is not None:
                    self._sets[mode] = ascii_set
        for mode, regexes in self._regexes.items():
            regex_set = re2.Set.SearchSet(RE2_OPTIONS)
            for _key, pattern, _compiled in regexes:
                regex_set.Add(pattern)
            regex_set.Compile()
            self._regex_sets[mode] = (regex_set, [self.bit(key) for key, _p, _c in regexes])
        # the modes scanned per field, in a fixed order (values lists are never scanned)
        self._field_modes = {f: tuple(sorted(m - {"values"}))
                             for f, m in self.modes_by_field.items()}

    # -- matching -------------------------------------------------------------------------

    def scan(self, field_name: str, value: str) -> FieldHits:
        """The lists' hits in one field's text, each mode scanned when first asked for."""
        return FieldHits(self, value, self._field_modes.get(field_name, ()))

    def scan_mode(self, hits: FieldHits, mode: str) -> int:
        """Which ``mode`` lists hit in the field's text, as a mask."""
        folded = hits.folds.get(_SHARES_FOLD.get(mode, mode))
        if folded is None:
            folded = _FOLD_ONCE[mode](hits.value)
        hits.folds[mode] = folded
        mask = 0
        if mode in ("words", "plain"):
            found = self._sets.get(mode)
            if found is not None and folded.text.isascii():
                regex_set, masks = found
                for i in regex_set.Match(folded.text) or ():
                    mask |= masks[i]
            else:
                automaton = self._automata.get(mode)
                if automaton is not None:
                    for _s, _e, _p, term_mask in self._terms_at(automaton, folded.text):
                        mask |= term_mask
        elif mode == "fuzzy" and self._fuzzy:
            cache = self._fuzzy_cache
            for word in text.words(folded.text):  # a dict lookup per word, mostly
                word_hit = cache.get(word)
                if word_hit is None:
                    if word.isdigit():  # a number is never a misspelt name (and
                        continue  # listings' own numbers would flood the cache)
                    word_hit = self._fuzzy_word(word)
                mask |= word_hit[1]
        elif mode in self._regex_sets:
            regex_set, bits = self._regex_sets[mode]
            for i in regex_set.Match(folded.text) or ():
                mask |= bits[i]
        return mask

    def locate(self, hits: FieldHits, modes: Iterable[str] | None = None) -> Raw:
        """Where each hit of a field is (of ``modes`` only if given), in the folded text
        of its mode."""
        raw: Raw = []
        for mode in hits.modes if modes is None else modes:
            mode_mask = hits.mode_mask(mode)
            if not mode_mask:
                continue
            folded = hits.folds[mode]
            if mode in ("words", "plain"):
                automaton = self._automata.get(mode)
                if automaton is not None:
                    raw.extend((s, e, p) for s, e, p, _m in self._terms_at(automaton,
                                                                           folded.text))
            elif mode == "fuzzy":
                found = {word: payload for word, (payload, _m) in
                         self._fuzzy_words(folded.text)}
                raw.extend((m.start(), m.end(), found[m.group()])
                           for m in text.WORD.finditer(folded.text) if m.group() in found)
            elif mode in self._regex_sets:
                bits = self._regex_sets[mode][1]
                for (key, pattern, compiled), bit in zip(self._regexes[mode], bits,
                                                         strict=True):
                    if mode_mask & bit and (m := compiled.search(folded.text)) is not None:
                        raw.append((m.start(), m.end(), ((key, pattern),)))
        return raw

    @staticmethod
    def _terms_at(automaton: Any, folded: str) -> Iterable[tuple[int, int, Payload, int]]:
        """Whole-word occurrences of the automaton's terms: (start, end, payload, mask)."""
        last = len(folded) - 1
        for end, (size, payload, payload_mask, start_bound, end_bound) in automaton.iter(
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
            yield start, end + 1, payload, payload_mask

    def _fuzzy_words(self, folded: str) -> Iterable[tuple[str, tuple[Payload, int]]]:
        """The words of ``folded`` within a fuzzy term's budget, with what they hit."""
        cache = self._fuzzy_cache
        for word in text.words(folded):
            found = cache.get(word) or (None if word.isdigit() else self._fuzzy_word(word))
            if found is not None and found[1]:
                yield word, found

    def _fuzzy_word(self, word: str) -> tuple[Payload, int]:
        """The fuzzy terms ``word`` is within budget of, and their mask; remembered."""
        payload = tuple(self._fuzzy_lookup(word))
        found = (payload, self.mask(k for k, _ in payload))
        if len(self._fuzzy_cache) > 200_000:  # a long backtest must not grow without bound
            self._fuzzy_cache.clear()
        self._fuzzy_cache[word] = found
        return found

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
