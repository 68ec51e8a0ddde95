"""Seller networks: which seller accounts one operator runs, per brand."""

from __future__ import annotations

from typing import Any

from crawler.store.db import Connection, replace_brand_rows

Row = tuple[str, str, str, str, int, str, str]


def save(store: Connection, brand: str, rows: list[Row]) -> list[Row]:
    """Replace the brand's (brand, marketplace, seller, network, size, reasons JSON,
    updated_at) rows; return them."""
    return replace_brand_rows(store, "seller_networks", (
        "brand", "marketplace", "seller", "network", "size", "reasons", "updated_at"),
        brand, rows)


def largest(store: Connection, brand: str, limit: int) -> list[tuple[str, int, str | None]]:
    """(network, size, reasons JSON) of the brand's networks of two or more accounts,
    largest first; none in a store from before networks."""
    if "seller_networks" not in store.db.table_names():
        return []
    return store.conn.execute(
        "select network, max(size), max(reasons) from seller_networks where brand = ? "
        "and size > 1 group by network order by max(size) desc, network limit ?",
        [brand, limit]).fetchall()


def members(store: Connection, brand: str, network: str) -> list[tuple[str, str]]:
    """(marketplace, seller) of each account of the network."""
    return store.conn.execute(
        "select marketplace, seller from seller_networks where brand = ? and "
        "network = ? order by 1, 2", [brand, network]).fetchall()


def cases(store: Connection, brand: str, network: str) -> int:
    """How many of the brand's cases, dismissed ones aside, the network's accounts have."""
    # from the network's few accounts to their listings (by seller) to their cases, in
    # that order (a cross join keeps it): the other way round joins every case of the
    # brand to its listing for its seller
    row: Any = store.conn.execute(
        "select count(*) from seller_networks n cross join listings l on l.seller = "
        "n.seller and l.marketplace = n.marketplace cross join cases c on c.brand = n.brand "
        "and c.marketplace = l.marketplace and c.listing_id = l.listing_id where "
        "n.brand = ? and n.network = ? and c.status != 'dismissed'", [brand, network]
    ).fetchone()
    return int(row[0])


def photos(store: Connection, brand: str, network: str, limit: int) -> list[str]:
    """Thumbnails of the photos the network's accounts show most, most shown first."""
    return [r[0] for r in store.conn.execute(
        # the network's accounts, then their listings by seller, then those listings'
        # photos (a cross join keeps that order; a marketplace's photos first is slower)
        "select i.thumbnail from seller_networks n cross join listings l on l.marketplace = "
        "n.marketplace and l.seller = n.seller cross join listing_images li on "
        "li.marketplace = l.marketplace and li.listing_id = l.listing_id join images i "
        "on i.sha256 = li.sha256 where n.brand = ? and n.network = ? group by i.sha256 "
        "order by count(*) desc, i.sha256 limit ?", [brand, network, limit])]
