"""The photo pipeline's batched writes: stored photos, their hashes and which listing shows
which photo, one transaction per batch (moves into ``crawler.store`` with the rest)."""

from __future__ import annotations

from typing import Any

from crawler.store import Store

# (marketplace, listing_id, position, url, sha256 or None, status, fetched_at)
LinkRow = tuple[str, str, int, str, str | None, str, str]
# an ``images`` row and its (view, algorithm, value) hash rows
PhotoRow = tuple[dict[str, Any], list[tuple[str, str, int]]]


def save_batch(store: Store, photos: list[PhotoRow], links: list[LinkRow]) -> None:
    """Record ``photos`` (once per content) and ``links`` in one transaction; photos first,
    so a link never names a photo the store lacks."""
    conn = store.db.conn
    with conn:
        conn.executemany(
            "insert or ignore into images (sha256, url, content_type, width, height, "
            "bytes, file, thumbnail, fetched_at) values (:sha256, :url, :content_type, "
            ":width, :height, :bytes, :file, :thumbnail, :fetched_at)",
            [image for image, _ in photos])
        conn.executemany(
            "insert or ignore into image_hashes (sha256, view, algorithm, value) "
            "values (?, ?, ?, ?)",
            [(image["sha256"], *h) for image, hashes in photos for h in hashes])
        conn.executemany(
            "insert or replace into listing_images (marketplace, listing_id, position, "
            "url, sha256, status, fetched_at) values (?, ?, ?, ?, ?, ?, ?)", links)
