"""Finding photos close to a photo: Hamming distance over every stored hash at once.

The distance between two photos is the smallest, over the pairs of views that undo a
reuse (plain against plain, trimmed against trimmed, mirrored against plain, cut out
against cut out), of pHash
distance plus dHash distance: 0 (the same picture) to 128. Both hashes must agree for a
small sum, which keeps unrelated photos apart better than either alone.

``HashIndex`` keeps every photo's hashes in numpy uint64 arrays and computes the
distances to all of them with one XOR and one popcount per view pair: at 100,000 photos a
query takes about a millisecond (``bench/images.py``), so no search tree is needed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from crawler.images.hashing import VIEWS, PhotoHashes

# (view of the query, view of the stored photo) pairs compared
PAIRS: tuple[tuple[int, int], ...] = (
    (VIEWS.index("plain"), VIEWS.index("plain")),
    (VIEWS.index("trimmed"), VIEWS.index("trimmed")),
    (VIEWS.index("mirrored"), VIEWS.index("plain")),
    (VIEWS.index("cutout"), VIEWS.index("cutout")),
)
MAX = 128
# photos this close are one photo reused: on the fixture's variants 0.1% of unrelated pairs
# fall at or below 30 (bench/images.py), so 24 leaves a margin for photos nobody here drew
DEFAULT_MAX_DISTANCE = 24


@dataclass(frozen=True)
class Match:
    """A stored photo close to the query: its key, the distance and the view pair."""

    key: str
    distance: int
    how: str  # "plain", "trimmed" or "mirrored": which view pair was closest


def distance(a: PhotoHashes, b: PhotoHashes) -> tuple[int, str]:
    """The distance between two photos and the view pair that gives it."""
    best = (MAX + 1, "plain")
    for qa, qb in PAIRS:
        d = (bin(a.phash[qa] ^ b.phash[qb]).count("1")
             + bin(a.dhash[qa] ^ b.dhash[qb]).count("1"))
        if d < best[0]:
            best = (d, VIEWS[qa])
    return best


class HashIndex:
    """Photos' hashes by key (a content hash, a listing, a reference file), searchable by
    distance. Adding is cheap; the arrays are rebuilt on the first query after it."""

    def __init__(self, items: Iterable[tuple[str, PhotoHashes]] = ()) -> None:
        self._keys: list[str] = []
        self._hashes: list[PhotoHashes] = []
        # one contiguous array per (algorithm, view): a column of a 2-D array is strided,
        # and XOR over strided memory is several times slower
        self._arrays: dict[tuple[str, int], npt.NDArray[np.uint64]] = {}
        self._built = 0
        for key, hashes in items:
            self.add(key, hashes)

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: str, hashes: PhotoHashes) -> None:
        self._keys.append(key)
        self._hashes.append(hashes)

    def get(self, key: str) -> PhotoHashes | None:
        """The hashes stored under ``key`` (the first, if added twice)."""
        try:
            return self._hashes[self._keys.index(key)]
        except ValueError:
            return None

    def _build(self) -> dict[tuple[str, int], npt.NDArray[np.uint64]]:
        if self._built != len(self._keys):
            for view in range(len(VIEWS)):
                self._arrays["p", view] = np.fromiter(
                    (h.phash[view] for h in self._hashes), np.uint64, len(self._hashes))
                self._arrays["d", view] = np.fromiter(
                    (h.dhash[view] for h in self._hashes), np.uint64, len(self._hashes))
            self._built = len(self._keys)
        return self._arrays

    def _pair_distances(self, query: PhotoHashes) -> list[npt.NDArray[np.uint8]]:
        arrays = self._build()
        # popcounts are at most 64 each, so their sum fits in uint8
        return [np.bitwise_count(arrays["p", qb] ^ np.uint64(query.phash[qa]))
                + np.bitwise_count(arrays["d", qb] ^ np.uint64(query.dhash[qa]))
                for qa, qb in PAIRS]

    def distances(self, query: PhotoHashes) -> tuple[npt.NDArray[np.uint8],
                                                      npt.NDArray[np.intp]]:
        """The distance from ``query`` to every stored photo, and which pair gave it."""
        per_pair = self._pair_distances(query)
        stacked = np.stack(per_pair)
        return stacked.min(axis=0), stacked.argmin(axis=0)

    def query(self, query: PhotoHashes, max_distance: int, limit: int = 10) -> list[Match]:
        """Stored photos within ``max_distance`` of ``query``, closest first."""
        if not self._keys:
            return []
        per_pair = self._pair_distances(query)
        best = per_pair[0]
        for other in per_pair[1:]:
            best = np.minimum(best, other)
        hits = np.flatnonzero(best <= max_distance)
        if len(hits) > limit:
            hits = hits[np.argpartition(best[hits], limit - 1)[:limit]]
        matches = []
        for i in hits.tolist():
            d = int(best[i])
            how = next(qa for (qa, _), pd in zip(PAIRS, per_pair, strict=True) if pd[i] == d)
            matches.append(Match(self._keys[i], d, VIEWS[how]))
        matches.sort(key=lambda m: (m.distance, m.key))
        return matches

    def nearest(self, query: PhotoHashes) -> Match | None:
        """The closest stored photo, whatever its distance (None when empty)."""
        found = self.query(query, MAX, limit=1)
        return found[0] if found else None
