"""Folding listing text so disguised brand names read as what they mean.

Counterfeiters write "Аcme" (Cyrillic А), "A​c​m​e" (zero-width spaces), "A c m e",
"4cme". Two folds are used by matchers:

``deep``  NFKD without accents, casefold, zero-width characters removed, Unicode
          confusables mapped to the Latin letter they imitate (TR39 data from
          confusable-homoglyphs), leetspeak read inside words that have letters
          ("4cme", "Acm3"), spaced-out letters joined, whitespace collapsed.
``plain`` accents and case only: the text as a buyer reads it. Comparing the two tells a
          plainly written brand from a disguised one.

Both keep a lazy map from folded offsets back to the original text, so a match can be
shown where it is in the listing.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

ZERO_WIDTH = frozenset("\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062"
                       "\u2063\u2064\ufeff")
# inside a word with letters, these stand for letters
LEET = str.maketrans({"4": "a", "@": "a", "3": "e", "0": "o", "1": "l", "$": "s", "5": "s",
                      "7": "t", "8": "b"})
_LEET_WORD = re.compile(r"[a-z0-9@$]*[a-z][a-z0-9@$]*")
_HAS_LEET = re.compile(r"[0134578@$]")
_SPACED = re.compile(r"(?<!\S)(?:[^\W\d_] ){2,}[^\W\d_](?!\S)")
_EDGE_SPACES = re.compile(r"^ +| +$")
_RUN_SPACES = re.compile(r" {2,}")
WORD = re.compile(r"\w+")


def _confusables() -> dict[str, str]:
    """Non-ASCII characters that imitate one ASCII letter or digit, mapped to it."""
    data = json.loads(resources.files("confusable_homoglyphs").joinpath(
        "confusables.json").read_text(encoding="utf-8"))
    out = {}
    for char, glyphs in data.items():
        if len(char) != 1 or char.isascii():
            continue
        latin = [g["c"] for g in glyphs if len(g["c"]) == 1 and g["c"].isascii()
                 and g["c"].isalnum()]
        if latin:
            out[char] = latin[0].lower()
    return out


class _CharTable(dict[int, str]):
    """A ``str.translate`` table that works each character out the first time it is seen."""

    def __init__(self, deep: bool) -> None:
        super().__init__()
        self.deep = deep
        self.confusable = _confusables() if deep else {}

    def __missing__(self, code: int) -> str:
        char = chr(code)
        if char.isspace():
            out = " "
        elif char in ZERO_WIDTH:
            out = "" if self.deep else " "
        else:
            decomposed = unicodedata.normalize("NFKD", char)
            kept = "".join(c for c in decomposed if not unicodedata.combining(c))
            if self.deep:
                kept = "".join(self.confusable.get(c, c) for c in kept)
            out = unicodedata.normalize("NFC", kept.casefold()) if kept else ""
        self[code] = out
        return out


_DEEP = _CharTable(deep=True)
_PLAIN = _CharTable(deep=False)


@dataclass
class Folded:
    """Folded text and the way back to the original's offsets."""

    text: str
    source: str
    table: _CharTable = field(repr=False)
    deleted: tuple[int, ...] = ()  # positions removed after the character fold
    _index: list[int] | None = field(default=None, repr=False)

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        """The original text's ``[start, end)`` for the folded text's ``[start, end)``."""
        if self._index is None:
            index: list[int] = []
            for i, char in enumerate(self.source):
                index.extend([i] * len(self.table[ord(char)]))
            if self.deleted:
                gone = set(self.deleted)
                index = [v for j, v in enumerate(index) if j not in gone]
            self._index = index
        if not self._index or start >= len(self._index):
            return (len(self.source), len(self.source))
        return (self._index[start], self._index[max(start, end - 1)] + 1)


def _leet(match: re.Match[str]) -> str:
    word = match.group()
    return word.translate(LEET) if _HAS_LEET.search(word) else word


def _leet_words(folded: str) -> str:
    """Read leetspeak inside words that mix letters with leet characters ("4cme")."""
    if folded.isalpha():
        return folded
    chunks = folded.split(" ")
    changed = False
    for i, chunk in enumerate(chunks):
        # most chunks are plain words or plain numbers: skip them without a regex
        if chunk.isalpha() or chunk.isdigit() or not _HAS_LEET.search(chunk):
            continue
        new = _LEET_WORD.sub(_leet, chunk)
        if new != chunk:
            chunks[i] = new
            changed = True
    return " ".join(chunks) if changed else folded


def _collapse(text: str, spaced: bool) -> tuple[str, tuple[int, ...]]:
    """Join spaced-out letters (deep only) and collapse runs of spaces, noting deletions."""
    if " " not in text:
        return text, ()
    gone: set[int] = set()
    if spaced:
        for m in _SPACED.finditer(text):
            gone.update(m.start() + i for i, c in enumerate(m.group()) if c == " ")
    if "  " in text or text[0] == " " or text[-1] == " ":
        for m in _EDGE_SPACES.finditer(text):
            gone.update(range(m.start(), m.end()))
        for m in _RUN_SPACES.finditer(text):
            gone.update(range(m.start() + 1, m.end()))
    if not gone:
        return text, ()
    return "".join(c for j, c in enumerate(text) if j not in gone), tuple(sorted(gone))


def _translate(text: str, table: _CharTable) -> str:
    if text.isascii():
        # ASCII folds to lower case; only control whitespace needs the table
        lowered = text.lower()
        return lowered if lowered.isprintable() else lowered.translate(table)
    return text.translate(table)


@lru_cache(maxsize=65536)
def deep(text: str) -> Folded:
    """The anti-evasion fold used by ``words`` and ``fuzzy`` lists."""
    folded = _leet_words(_translate(text, _DEEP))
    folded, deleted = _collapse(folded, spaced=True)
    return Folded(folded, text, _DEEP, deleted)


@lru_cache(maxsize=65536)
def plain(text: str) -> Folded:
    """Case and accents only: used by ``plain`` and ``values`` lists and by regexes."""
    folded, deleted = _collapse(_translate(text, _PLAIN), spaced=False)
    return Folded(folded, text, _PLAIN, deleted)


def fold_term(term: str, mode: str) -> str:
    """A list term folded the way the text it is matched against is folded."""
    return (deep(term) if mode in ("words", "fuzzy") else plain(term)).text

