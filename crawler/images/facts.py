"""What a brand's rules know about each listing's photo, worked out after a crawl.

For every listing whose photo is stored: the closest of the brand's reference photos and
its distance (``image: {similar_to: reference}``), and how many other sellers show the
same photo, or one within ``DEFAULT_MAX_DISTANCE`` of it (``image: {reused_by_sellers}``).
Computed from the stored hashes with one vectorised query per distinct photo.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from crawler.images.hashing import PhotoHashes
from crawler.images.matching import DEFAULT_MAX_DISTANCE, MAX, HashIndex
from crawler.store import Store

Key = tuple[str, str]  # (marketplace, listing_id)


def stored_hashes(store: Store) -> dict[str, PhotoHashes]:
    """Every stored photo's hashes, by SHA-256."""
    rows: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for sha, view, algorithm, value in store.image_hash_rows():
        rows[sha].append((view, algorithm, value))
    out = {}
    for sha, hash_rows in rows.items():
        try:
            out[sha] = PhotoHashes.from_rows(hash_rows)
        except KeyError:
            continue  # a photo stored by a version with other views: not comparable
    return out


def image_facts(store: Store, references: list[tuple[str, PhotoHashes]],
                hashes: dict[str, PhotoHashes] | None = None) -> dict[Key, dict[str, Any]]:
    """Per listing with a stored photo: ``photo`` (its SHA-256), ``reference`` (closest
    reference photo: file, distance, photo) and ``image_sellers``."""
    hashes = hashes if hashes is not None else stored_hashes(store)
    photos = [(m, lid, sha, seller or "") for m, lid, sha, seller, _title
              in store.listing_photos() if sha in hashes]
    shas = sorted({p[2] for p in photos})
    index = HashIndex((sha, hashes[sha]) for sha in shas)
    refs = HashIndex(references)
    sellers_of: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for market, _lid, sha, seller in photos:
        sellers_of[sha].add((market, seller))
    nearest: dict[str, dict[str, Any]] = {}
    similar: dict[str, set[tuple[str, str]]] = {}
    for sha in shas:
        found = refs.nearest(hashes[sha]) if len(refs) else None
        if found is not None and found.distance < MAX:
            nearest[sha] = {"file": found.key, "distance": found.distance, "photo": sha,
                            "how": found.how}
        close = index.query(hashes[sha], DEFAULT_MAX_DISTANCE, limit=len(shas))
        similar[sha] = set().union(*(sellers_of[m.key] for m in close))
    out: dict[Key, dict[str, Any]] = {}
    for market, lid, sha, seller in photos:
        if (market, lid) in out:
            continue  # the first photo of a listing speaks for it
        facts: dict[str, Any] = {"photo": sha,
                                 "image_sellers": len(similar[sha] - {(market, seller)})}
        if sha in nearest:
            facts["reference"] = nearest[sha]
        out[market, lid] = facts
    return out
