"""Images: photos stored once by content, their perceptual hashes, which listing shows
which photo, and the per-brand facts the rules read (``listing_facts``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from crawler.store.db import Connection, now, replace_brand_rows


def has_images(store: Connection, marketplace: str, listing_id: str) -> bool:
    """Whether this listing's photos were fetched (or tried) before."""
    return store.conn.execute(
        "select 1 from listing_images where marketplace = ? and listing_id = ? limit 1",
        [marketplace, listing_id]).fetchone() is not None


def image_for_url(store: Connection, url: str) -> str | None:
    """The content hash of the photo last fetched from ``url``, if any."""
    row = store.conn.execute(
        "select sha256 from listing_images where url = ? and sha256 is not null "
        "order by fetched_at desc limit 1", [url]).fetchone()
    return str(row[0]) if row else None


def save_image(store: Connection, image: dict[str, Any],
               hashes: list[tuple[str, str, int]]) -> dict[str, Any]:
    """Record a stored photo (an ``images`` row) and its hash rows, once per content;
    return the row offered (a photo stored before keeps its first row)."""
    row = {**image, "fetched_at": image.get("fetched_at") or now()}
    with store.transaction() as conn:
        conn.execute(
            "insert or ignore into images (sha256, url, content_type, width, height, "
            "bytes, file, thumbnail, fetched_at) values (:sha256, :url, :content_type, "
            ":width, :height, :bytes, :file, :thumbnail, :fetched_at)", row)
        conn.executemany(
            "insert or ignore into image_hashes (sha256, view, algorithm, value) "
            "values (?, ?, ?, ?)", [(image["sha256"], *h) for h in hashes])
    return row


def link_image(store: Connection, marketplace: str, listing_id: str, position: int,
               url: str, sha256: str | None, status: str) -> dict[str, Any]:
    """Which photo a listing shows at ``position`` (``status`` ok, or why not); return
    the row written."""
    row = {"marketplace": marketplace, "listing_id": listing_id, "position": position,
           "url": url, "sha256": sha256, "status": status, "fetched_at": now()}
    with store.transaction() as conn:
        conn.execute(
            "insert or replace into listing_images (marketplace, listing_id, position, "
            "url, sha256, status, fetched_at) values (:marketplace, :listing_id, "
            ":position, :url, :sha256, :status, :fetched_at)", row)
    return row


def image_hash_rows(store: Connection) -> Iterator[tuple[str, str, str, int]]:
    """Every stored (sha256, view, algorithm, value) hash row, by photo."""
    yield from store.conn.execute(
        "select sha256, view, algorithm, value from image_hashes order by sha256")


def listing_photos(store: Connection) -> Iterator[tuple[str, str, str, str | None, str]]:
    """(marketplace, listing_id, sha256, seller, title) of every fetched photo."""
    yield from store.conn.execute(
        "select li.marketplace, li.listing_id, li.sha256, l.seller, l.title "
        "from listing_images li join listings l on l.marketplace = li.marketplace and "
        "l.listing_id = li.listing_id where li.sha256 is not null "
        "order by li.marketplace, li.listing_id, li.position")


def save_facts(store: Connection, brand: str, facts: dict[tuple[str, str], str]
               ) -> list[tuple[str, str, str, str, str]]:
    """Replace ``brand``'s per-listing facts ((marketplace, listing_id) -> JSON); return
    the (brand, marketplace, listing_id, facts, computed_at) rows written."""
    at = now()
    rows = [(brand, m, lid, f, at) for (m, lid), f in facts.items()]
    return replace_brand_rows(store, "listing_facts", (
        "brand", "marketplace", "listing_id", "facts", "computed_at"), brand, rows)


# (marketplace, listing_id, position, url, sha256 or None, status, fetched_at)
LinkRow = tuple[str, str, int, str, str | None, str, str]
# an ``images`` row and its (view, algorithm, value) hash rows
PhotoRow = tuple[dict[str, Any], list[tuple[str, str, int]]]


def save_batch(store: Connection, photos: list[PhotoRow], links: list[LinkRow]) -> None:
    """Record ``photos`` (once per content) and ``links`` in one transaction; photos first,
    so a link never names a photo the store lacks."""
    with store.transaction() as conn:
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
