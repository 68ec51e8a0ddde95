"""What a scan finds in one listing field: which term lists hit (a bit mask per match
mode, each mode scanned when first asked for) and, only when asked, where."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from crawler.rules import text

if TYPE_CHECKING:
    from crawler.rules.matchers import Matchers


@dataclass
class Hit:
    start: int  # in the folded text
    end: int
    term: str  # the list's term as written


Payload = tuple[tuple[str, str], ...]  # (list key, term as written) for one folded term


Raw = list[tuple[int, int, Payload]]  # (start, end, payload) in the folded text


class FieldHits:
    """What the matchers find in one field's text, per match mode, each mode scanned when
    first asked for: which list keys hit (the OR of their bits), and where (worked out
    only when asked, since most hits are only tested, never shown)."""

    __slots__ = ("_raw", "_raw_of", "folds", "matchers", "modes", "value")

    def __init__(self, matchers: Matchers | None = None, value: str = "",
                 modes: tuple[str, ...] = ()) -> None:
        self.matchers = matchers
        self.value = value
        self.modes: dict[str, int | None] = dict.fromkeys(modes)  # mode -> mask, once known
        self.folds: dict[str, text.Folded] = {}  # mode -> the field folded that way
        self._raw: Raw | None = None
        self._raw_of: dict[str, Raw] = {}  # mode -> where its hits are, asked for alone

    def mode_mask(self, mode: str) -> int:
        """The keys of ``mode`` lists that hit."""
        found = self.modes.get(mode)
        if found is None:
            if self.matchers is None or mode not in self.modes:
                return 0
            found = self.modes[mode] = self.matchers.scan_mode(self, mode)
        return found

    @property
    def mask(self) -> int:
        """The keys of every list that hit, whatever its mode."""
        out = 0
        for mode in self.modes:
            out |= self.mode_mask(mode)
        return out

    @property
    def raw(self) -> Raw:
        if self._raw is None:
            self._raw = self.matchers.locate(self) if self.matchers is not None else []
        return self._raw

    def spans(self, key: str, mode: str | None = None) -> list[Hit]:
        """Where list ``key`` hit; ``mode``: the key is only ever matched that way, and
        only that mode's hits are located (a product's name, looked up for every
        listing with a price rule, need not locate the fuzzy and regex hits too)."""
        if mode is None or self._raw is not None:
            raw = self.raw
        else:
            found = self._raw_of.get(mode)
            if found is None:
                found = self._raw_of[mode] = (
                    self.matchers.locate(self, (mode,)) if self.matchers is not None
                    and mode in self.modes else [])
            raw = found
        return [Hit(start, end, written) for start, end, payload in raw
                for k, written in payload if k == key]

