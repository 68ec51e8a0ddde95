"""Folding: disguised brand names read as the brand, and offsets lead back to the original."""

from __future__ import annotations

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
