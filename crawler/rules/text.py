"""Folding listing text so disguised brand names read as what they mean.

Counterfeiters write "Аcme" (Cyrillic А), "A​c​m​e" (zero-width spaces), "A c m e",
"4cme". Two folds are used by matchers:

``deep``  NFKD without accents, casefold, zero-width characters removed, Unicode
          confusables mapped to the Latin letter they imitate (TR39 data from
          confusable-homoglyphs), leetspeak read inside words that have letters
          ("4cme", "Acm3"), spaced-out letters joined, whitespace collapsed.
``plain`` accents and case only: the text as a buyer reads it. Comparing the two tells a
          plainly written brand from a disguised one.
``raw``   no fold: the text exactly as written, for regexes that look for the tricks
          themselves (a zero-width character right after a plainly written name).

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
# a run of the characters a leet word is written with that holds a leet character
_LEET_RUN = re.compile(r"[a-z0-9@$]*[0134578@$][a-z0-9@$]*")
# a letter beside a digit, '@' or '$': without one, no word mixes letters and leet
_MIXED = re.compile(r"[a-z][0-9@$]|[0-9@$][a-z]")
# the same test for ASCII text, at C speed: letters read as "a", digits, '@', '$' as "0"
_KINDS = bytes(97 if 97 <= c <= 122 else 48 if chr(c) in "0123456789@$" else 32
               for c in range(256))
_WORD_BYTES = bytes(c if c < 128 and (chr(c).isalnum() or c == 95) else 32
                    for c in range(256))  # ASCII word characters kept, the rest spaces
_SPACED = re.compile(r"(?<!\S)(?:[^\W\d_] ){2,}[^\W\d_](?!\S)")
# every spaced-out word holds " x y"; searching for that literal-led shape first is cheap
_MAYBE_SPACED = re.compile(r" \S \S")
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


@dataclass(slots=True)
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
    run = match.group()  # a run of letters, digits, '@' and '$' with a leet character
    return run.translate(LEET) if run.strip("0123456789@$") else run  # and a letter


def _leet_words(folded: str, kinds: str | None = None) -> str:
    """Read leetspeak inside words that mix letters with leet characters ("4cme")."""
    # most text has no letter beside a digit, '@' or '$': one look rules it out
    if not folded.isascii():
        return folded if _MIXED.search(folded) is None else _LEET_RUN.sub(_leet, folded)
    if kinds is None:
        kinds = _kinds(folded)
    if "a0" not in kinds and "0a" not in kinds:
        return folded
    # a regex pass over the whole text is slow; only the words that mix need one
    chunks = folded.split(" ")
    for i, chunk in enumerate(chunks):
        if not (chunk.isalpha() or chunk.isdigit()):
            chunk_kinds = _kinds(chunk)
            if "a0" in chunk_kinds or "0a" in chunk_kinds:
                chunks[i] = _LEET_RUN.sub(_leet, chunk)
    return " ".join(chunks)


def _kinds(ascii_text: str) -> str:
    """Each character's kind, at C speed: letters "a"; digits, '@', '$' "0"; others " "."""
    return ascii_text.encode().translate(_KINDS).decode()


def words(folded: str) -> list[str]:
    """The words of a folded text, as ``WORD.findall`` finds them (faster for ASCII)."""
    if folded.isascii():
        return folded.encode().translate(_WORD_BYTES).decode().split()
    return WORD.findall(folded)


def _collapse(text: str, spaced: bool) -> tuple[str, tuple[int, ...]]:
    """Join spaced-out letters (deep only) and collapse runs of spaces, noting deletions."""
    if " " not in text:
        return text, ()
    gone: set[int] = set()
    if spaced and _MAYBE_SPACED.search(text) is not None:
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


@lru_cache(maxsize=1024)
def deep(text: str) -> Folded:
    """The anti-evasion fold used by ``words`` and ``fuzzy`` lists."""
    folded = _translate(text, _DEEP)
    if folded.isascii():
        kinds = _kinds(folded)  # one pass tells whether leet or spacing can be there
        # every spaced-out word shows as " a a"; leet never changes a one-letter word
        folded, deleted = _collapse(_leet_words(folded, kinds), spaced=" a a" in kinds)
    else:
        folded, deleted = _collapse(_leet_words(folded), spaced=True)
    return Folded(folded, text, _DEEP, deleted)


@lru_cache(maxsize=1024)
def plain(text: str) -> Folded:
    """Case and accents only: used by ``plain`` and ``values`` lists and by regexes."""
    folded, deleted = _collapse(_translate(text, _PLAIN), spaced=False)
    return Folded(folded, text, _PLAIN, deleted)


class _Identity(_CharTable):
    """Every character stands for itself: the raw text, for ``raw`` regexes."""

    def __missing__(self, code: int) -> str:
        self[code] = chr(code)
        return self[code]


_RAW = _Identity(deep=False)


@lru_cache(maxsize=1024)
def raw(text: str) -> Folded:
    """No fold at all: ``raw`` regexes see zero-width characters, case and accents."""
    return Folded(text, text, _RAW)


def fold_term(term: str, mode: str) -> str:
    """A list term folded the way the text it is matched against is folded."""
    return (deep(term) if mode in ("words", "fuzzy") else plain(term)).text

