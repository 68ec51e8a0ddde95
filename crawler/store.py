"""The SQLite store: sweeps, listings (one row per marketplace + listing id) and
observations (what each sweep saw of each listing, so price and title history survive).

Schema changes are registered migrations, applied in order and recorded in
``_migrations``. WAL mode; every batch of writes is one transaction, so a killed process
leaves either all of a batch or none of it.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from crawler.items import Listing

Migration = Callable[[sqlite_utils.Database], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(name: str) -> Callable[[Migration], Migration]:
    def register(fn: Migration) -> Migration:
        MIGRATIONS.append((name, fn))
        return fn
    return register


def now() -> str:
    """UTC, ISO 8601 with seconds: what every timestamp in the store looks like."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@migration("0001_sweeps_listings_observations")
def _initial(db: sqlite_utils.Database) -> None:
    db.table("sweeps").create({
        "id": int, "kind": str, "brand": str, "campaign": str, "marketplaces": str,
        "keywords": str, "max_pages": int, "started": str, "finished": str, "status": str,
        "stats": str, "pid": int, "host": str,
    }, pk="id", not_null={"kind", "started", "status"})
    db.table("listings").create({
        "marketplace": str, "listing_id": str, "url": str, "title": str, "description": str,
        "price": str, "price_high": str, "currency": str, "seller": str, "seller_id": str,
        "seller_url": str, "seller_location": str, "ships_from": str, "condition": str,
        "image_urls": str, "units_sold": int, "moq": int, "keywords": str, "campaigns": str,
        "render_mode": str, "first_seen": str, "last_seen": str, "first_sweep": int,
        "last_sweep": int,
    }, pk=("marketplace", "listing_id"), not_null={"url", "title", "first_seen"})
    db.table("observations").create({
        "sweep_id": int, "marketplace": str, "listing_id": str, "seen_at": str, "url": str,
        "title": str, "price": str, "price_high": str, "currency": str, "seller": str,
        "keywords": str, "render_mode": str,
    }, pk=("sweep_id", "marketplace", "listing_id"),
        foreign_keys=[("sweep_id", "sweeps", "id")])
    db.table("observations").create_index(["marketplace", "listing_id"])
    db.table("listings").enable_fts(["title", "description"], create_triggers=True,
                              tokenize="unicode61 remove_diacritics 2")


class Store:
    """One SQLite file. Open it, ``migrate()``, then record sweeps and listings."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.db = sqlite_utils.Database(self.path)
        self.db.execute("PRAGMA busy_timeout = 30000")
        self.db.enable_wal()
        self.db.execute("PRAGMA synchronous = NORMAL")  # WAL makes NORMAL crash-safe

    def migrate(self) -> list[str]:
        """Apply migrations not yet recorded; return the names applied."""
        applied = set()
        if "_migrations" in self.db.table_names():
            applied = {r["name"] for r in self.db.table("_migrations").rows}
        done = []
        for name, fn in MIGRATIONS:
            if name in applied:
                continue
            with self.db.conn:
                fn(self.db)
                self.db.table("_migrations").insert({"name": name, "applied": now()}, pk="name")
            done.append(name)
        return done

    # -- sweeps ---------------------------------------------------------------------------

    def start_sweep(self, *, kind: str, brand: str | None, campaign: str | None,
                    marketplaces: list[str], keywords: list[str], max_pages: int) -> int:
        """Record a running sweep; first marks any sweep whose process died ``interrupted``."""
        self.mark_interrupted()
        with self.db.conn:
            table = self.db.table("sweeps").insert({
                "kind": kind, "brand": brand, "campaign": campaign,
                "marketplaces": json.dumps(marketplaces), "keywords": json.dumps(keywords),
                "max_pages": max_pages, "started": now(), "status": "running",
                "pid": os.getpid(), "host": socket.gethostname(),
            })
        assert table.last_pk is not None
        return int(table.last_pk)

    def finish_sweep(self, sweep_id: int, status: str, stats: dict[str, Any]) -> None:
        with self.db.conn:
            self.db.table("sweeps").update(sweep_id, {"finished": now(), "status": status,
                                                "stats": json.dumps(stats, sort_keys=True)})

    def mark_interrupted(self) -> int:
        """Sweeps left ``running`` by a process that no longer exists become ``interrupted``."""
        host = socket.gethostname()
        stale = [r["id"] for r in self.db.query(
            "select id, pid, host from sweeps where status = 'running'")
            if r["host"] == host and not _alive(r["pid"])]
        with self.db.conn:
            for sweep_id in stale:
                self.db.table("sweeps").update(sweep_id, {"status": "interrupted",
                                                    "finished": now()})
        return len(stale)

    def sweep(self, sweep_id: int) -> dict[str, Any]:
        row: dict[str, Any] = self.db.table("sweeps").get(sweep_id)
        return row

    # -- listings -------------------------------------------------------------------------

    def save(self, sweep_id: int, listings: Iterable[Listing], campaign: str | None = None
             ) -> int:
        """Upsert listings and their observations in one transaction; return how many were
        new to the store. The same listing found by another keyword gains that keyword."""
        new = 0
        seen_at = now()
        with self.db.conn:
            for item in listings:
                key = (item.marketplace, item.listing_id)
                old = self._get("listings", key)
                keywords = _merge(old.get("keywords") if old else None, [item.keyword])
                campaigns = _merge(old.get("campaigns") if old else None,
                                   [campaign] if campaign else [])
                row = {
                    "marketplace": item.marketplace, "listing_id": item.listing_id,
                    "url": item.url, "title": item.title, "price": item.price,
                    "price_high": item.price_high, "currency": item.currency,
                    "seller": item.seller, "seller_id": item.seller_id,
                    "seller_url": item.seller_url, "seller_location": item.seller_location,
                    "ships_from": item.ships_from, "condition": item.condition,
                    "image_urls": json.dumps(item.image_urls), "units_sold": item.units_sold,
                    "moq": item.moq, "keywords": keywords, "campaigns": campaigns,
                    "render_mode": item.render_mode, "last_seen": seen_at,
                    "last_sweep": sweep_id,
                }
                if item.description is not None or old is None:
                    row["description"] = item.description
                if old is None:
                    new += 1
                    row |= {"first_seen": seen_at, "first_sweep": sweep_id}
                else:
                    row |= {"first_seen": old["first_seen"], "first_sweep": old["first_sweep"]}
                self.db.table("listings").upsert(row, pk=("marketplace", "listing_id"))
                obs_key = (sweep_id, *key)
                prev = self._get("observations", obs_key)
                self.db.table("observations").upsert({
                    "sweep_id": sweep_id, "marketplace": item.marketplace,
                    "listing_id": item.listing_id, "seen_at": seen_at, "url": item.url,
                    "title": item.title, "price": item.price, "price_high": item.price_high,
                    "currency": item.currency, "seller": item.seller,
                    "keywords": _merge(prev.get("keywords") if prev else None, [item.keyword]),
                    "render_mode": item.render_mode,
                }, pk=("sweep_id", "marketplace", "listing_id"))
        return new

    def _get(self, table: str, pk: tuple[Any, ...]) -> dict[str, Any] | None:
        try:
            row: dict[str, Any] = self.db.table(table).get(pk)
        except sqlite_utils.db.NotFoundError:
            return None
        return row

    def search(self, text: str, limit: int = 20) -> list[dict[str, Any]]:
        """Full-text search over listing titles and descriptions."""
        return list(self.db.table("listings").search(text, limit=limit))


def _merge(old_json: str | None, add: list[str]) -> str:
    values = set(json.loads(old_json)) if old_json else set()
    values.update(add)
    return json.dumps(sorted(values), ensure_ascii=False)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
