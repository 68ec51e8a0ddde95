"""Folding: disguised brand names read as the brand, and offsets lead back to the original."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.rules import text


@pytest.mark.parametrize(("written", "reads"), [
    ("Аcme Pulse X2", "acme pulse x2"),  # Cyrillic А
    ("A\u200bc\u200bm\u200be Pulse", "acme pulse"),  # zero-width spaces
    ("A c m e Pulse", "acme pulse"),
    ("A C M E  Pulse", "acme pulse"),
    ("4cme Trailpack", "acme trailpack"),
    ("Acm3 and @cme", "acme and acme"),
    ("VEL0RA bag", "velora bag"),
    ("Vеlorа", "velora"),  # Cyrillic е and а
    ("Café  1:1 ", "cafe 1:1"),
    ("ＡＣＭＥ", "acme"),  # full-width
])
def test_deep_fold_reads_through_disguises(written: str, reads: str) -> None:
    assert text.deep(written).text == reads


def test_plain_fold_keeps_disguises_visible() -> None:
    assert text.plain("Аcme").text != "acme"
    assert text.plain("4cme").text == "4cme"
    assert text.plain("A\u200bcme").text == "a cme"
    assert text.plain("ACME Café").text == "acme cafe"


def test_pure_numbers_are_not_leetspeak() -> None:
    assert text.deep("1:1 copy 20000").text == "1:1 copy 20000"


@pytest.mark.parametrize("written", ["Аcme", "A\u200bc\u200bm\u200be", "A c m e", "4cme"])
def test_source_span_points_at_the_original(written: str) -> None:
    title = f"New {written} Pulse X2"
    folded = text.deep(title)
    start = folded.text.index("acme")
    s, e = folded.source_span(start, start + 4)
    assert title[s:e] == written


@given(st.text(max_size=60))
def test_offsets_always_map_into_the_source(value: str) -> None:
    for folded in (text.deep(value), text.plain(value)):
        for start in range(len(folded.text)):
            s, e = folded.source_span(start, start + 1)
            assert 0 <= s <= e <= len(value)


_REFERENCE_LEET_WORD = re.compile(r"[a-z0-9@$]*[a-z][a-z0-9@$]*")


def _reference_leet(folded: str) -> str:
    """Leetspeak read the plain way: every word with a letter, translated if it has a
    leet character. The fast path in ``text`` must agree with it on every text."""
    return _REFERENCE_LEET_WORD.sub(
        lambda m: m.group().translate(text.LEET)
        if re.search(r"[0134578@$]", m.group()) else m.group(), folded)


@given(st.text(alphabet="ab4cz0135@$ #:-é\u0430", max_size=40))
def test_leet_fast_path_agrees_with_the_plain_reading(value: str) -> None:
    assert text._leet_words(value) == _reference_leet(value)


@given(st.text(max_size=40) | st.text(alphabet="ab1_ #:-\t", max_size=40))
def test_words_agree_with_the_word_regex(value: str) -> None:
    assert text.words(value) == text.WORD.findall(value)


@given(st.text(alphabet="aBc4 0$ #:\t.-é", max_size=40))
def test_deep_fold_shortcuts_agree_with_the_full_reading(value: str) -> None:
    """The ASCII shortcuts (skipping leet and spacing checks that cannot apply) must give
    what running every step gives."""
    translated = text._translate(value, text._DEEP)
    expected = text._collapse(_reference_leet(translated), spaced=True)
    folded = text.deep(value)
    assert (folded.text, folded.deleted) == expected
