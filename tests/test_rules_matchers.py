"""Matchers: which lists hit a field's text, and where, whichever way the hits are found."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from crawler.rules import text
from crawler.rules.matchers import Matchers

WORDS = ["acme", "super copy", "1:1", "aaa", "#fake", "co-op", "a.b", "高仿", "x", "_id"]
PLAIN = ["acme pro", "pro", "1:1"]
FRAGMENTS = [*WORDS, *PLAIN, " ", "  ", "-", ".", ":", "_", "s", "1", "ACME", "Super",
             "copy", "aaaa", "pro1", "#", "\t"]


def matchers(*, ascii_set: bool) -> Matchers:
    m = Matchers()
    for i, term in enumerate(WORDS):
        m.add(f"w{i}", "words", [(term, frozenset(), 0)], ["title"])
    for i, term in enumerate(PLAIN):
        m.add(f"p{i}", "plain", [(term, frozenset(), 0)], ["title"])
    m.add("names", "fuzzy", [("acme", frozenset(), 1)], ["title"])
    m.add("rx", "regex", [(r"\d{3,}", frozenset(), 0)], ["title"])
    m.build()
    if not ascii_set:
        m._sets.clear()  # every text through the Aho-Corasick automaton
    return m


FAST, SLOW = matchers(ascii_set=True), matchers(ascii_set=False)


@given(st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join))
def test_re2_set_and_automaton_find_the_same_lists(title: str) -> None:
    assert FAST.scan("title", title).mask == SLOW.scan("title", title).mask


@given(st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join))
def test_every_located_hit_is_a_term_of_its_list(title: str) -> None:
    hits = FAST.scan("title", title)
    keys = {k for _s, _e, payload in hits.raw for k, _t in payload}
    assert FAST.mask(keys) == hits.mask  # a list hits exactly when it has a located hit
    for start, end, payload in hits.raw:
        for key, written in payload:
            mode = {"w": "words", "p": "plain", "n": "fuzzy", "r": "regex"}[key[0]]
            found = hits.folds[mode].text[start:end]
            if mode in ("words", "plain"):
                assert found == text.fold_term(written, mode)


def test_modes_are_scanned_only_when_asked_for() -> None:
    hits = FAST.scan("title", "Acme super copy 1234")
    assert hits.folds == {}
    assert hits.mode_mask("regex") == FAST.bits["rx"]
    assert set(hits.folds) == {"regex"}
    assert hits.mask == FAST.mask(["w0", "w1", "names", "rx"])
