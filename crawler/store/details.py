"""Detail readings: the last detail page read of each listing, when it was read, for
which card (title and price) and what it gave, so a repeat sweep fetches a listing's
detail page only when its card changed or its reading is old (``spiders.readings``)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from crawler.store.db import Connection

# (listing_id, title, price, price_high, currency) of a card a detail page was read for
Card = tuple[str, str, str | None, str | None, str | None]


def fresh(store: Connection, marketplace: str, days: float) -> Iterator[Card]:
    """The card of every listing of ``marketplace`` whose detail page was read in the
    last ``days`` days, in one query; not the values (descriptions may be long)."""
    since = (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    cursor = store.conn.execute(
        "select listing_id, title, price, price_high, currency from detail_readings "
        "where marketplace = ? and fetched_at >= ?", [marketplace, since])
    while rows := cursor.fetchmany(2000):
        yield from rows


def values(store: Connection, marketplace: str, listing_id: str
           ) -> dict[str, Any] | None:
    """What the listing's last detail page read gave ({field: value}), or None."""
    row = store.conn.execute(
        "select fields from detail_readings where marketplace = ? and listing_id = ?",
        [marketplace, listing_id]).fetchone()
    return json.loads(row[0]) if row else None


def record(store: Connection, marketplace: str, sweep_id: int | None,
           readings: Iterable[tuple[Card, str, dict[str, Any]]]) -> int:
    """Store detail readings, each (card, read at, values), replacing the listing's
    earlier one, in one transaction; return how many."""
    rows = [(marketplace, card[0], at, card[1], card[2], card[3], card[4],
             json.dumps(found, ensure_ascii=False), sweep_id)
            for card, at, found in readings]
    with store.transaction() as conn:
        conn.executemany(
            "insert or replace into detail_readings (marketplace, listing_id, fetched_at, "
            "title, price, price_high, currency, fields, sweep_id) values "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return len(rows)
