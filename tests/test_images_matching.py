"""Matching photos by distance: reused copies found, unrelated photos kept apart."""

from __future__ import annotations

import itertools

from crawler.images.hashing import PhotoHashes, hash_bytes
from crawler.images.matching import DEFAULT_MAX_DISTANCE, MAX, HashIndex, distance
from fixtures import images
from fixtures.brands import BRANDS

OFFICIAL = [images.official_id(p.sku, a) for b in BRANDS.values() for p in b.products
            for a in range(images.ANGLES)]


def _hashes(image_id: str) -> PhotoHashes:
    return hash_bytes(images.photo(image_id))


def test_reused_copies_match_their_source_and_nothing_else() -> None:
    index = HashIndex((o, _hashes(o)) for o in OFFICIAL)
    assert len(index) == len(OFFICIAL)
    for source in OFFICIAL[::5]:
        for transform in ("resize", "jpeg", "watermark", "mirror", "crop", "pad"):
            # the first copy changed by at most 5% (crop and pad go up to 10%)
            copy = next(c for n in range(50) if (how := images.derivation(
                c := images.derived_id(source, transform, n))) and (
                    transform not in ("crop", "pad") or how.amount <= 0.05))
            found = index.query(_hashes(copy), DEFAULT_MAX_DISTANCE)
            assert [m.key for m in found] == [source], (copy, found)
            assert found[0].distance == distance(_hashes(copy), _hashes(source))[0]
    mirrored = index.nearest(_hashes(images.derived_id(OFFICIAL[0], "mirror", 2)))
    assert mirrored is not None and mirrored.how == "mirrored"


def test_unrelated_photos_are_far_apart() -> None:
    photos = [_hashes(f"gen-{i}") for i in range(40)] + [_hashes(o) for o in OFFICIAL]
    close = [1 for a, b in itertools.combinations(photos, 2)
             if distance(a, b)[0] <= DEFAULT_MAX_DISTANCE]
    assert not close


def test_index_agrees_with_pairwise_distance_and_grows() -> None:
    index = HashIndex()
    assert index.query(_hashes(OFFICIAL[0]), MAX) == [] and index.nearest(
        _hashes(OFFICIAL[0])) is None
    index.add("a", _hashes(OFFICIAL[0]))
    assert index.nearest(_hashes(OFFICIAL[0])).distance == 0  # type: ignore[union-attr]
    for o in OFFICIAL[1:6]:
        index.add(o, _hashes(o))  # added after a query: the arrays are rebuilt
    query = _hashes(OFFICIAL[3])
    best, _ = index.distances(query)
    assert [int(d) for d in best] == [distance(query, index.get(k))[0]  # type: ignore[arg-type]
                                      for k in ["a", *OFFICIAL[1:6]]]
    assert index.query(query, MAX, limit=2)[0].key == OFFICIAL[3]
    assert len(index.query(query, MAX, limit=2)) == 2 and index.get("zzz") is None
