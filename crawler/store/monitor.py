"""The store's side of sweep monitoring (``crawler.sweep.monitor``): each marketplace's figures
per sweep (listings, result pages, field coverage), kept so later sweeps can compare
themselves with the ones before. All of this module's SQL; """

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from crawler.store.db import now
from crawler.vocab import LISTING_FIELDS

# listing fields -> how the store tells that a listing has it (its ``listings`` column)
_EMPTY = ("", "[]")


def field_counts(db: sqlite_utils.Database, sweep_id: int, marketplace: str,
                 fields: list[str]) -> tuple[int, dict[str, int]]:
    """How many listings of ``marketplace`` sweep ``sweep_id`` saw, and how many of them
    have each of ``fields`` (a value that is not null, empty text or an empty list).
    The listing rows hold what the latest sighting (this sweep's) extracted."""

    unknown = [f for f in fields if f not in LISTING_FIELDS]
    if unknown:  # column names are formatted in: only the known ones
        raise ValueError(f"not listing fields: {unknown}")
    parts = [f"sum(case when l.[{f}] is not null and cast(l.[{f}] as text) not in "
             f"(?, ?) then 1 else 0 end)" for f in fields]
    params: list[Any] = [v for _ in fields for v in _EMPTY]
    # only our own column names are formatted in; every value is bound
    sql = (f"select count(*){''.join(', ' + p for p in parts)} from observations o "  # noqa: S608
           "join listings l on l.marketplace = o.marketplace and l.listing_id = "
           "o.listing_id where o.sweep_id = ? and o.marketplace = ?")
    row = db.conn.execute(sql, [*params, sweep_id, marketplace]).fetchone()
    return int(row[0]), {f: int(row[i + 1] or 0) for i, f in enumerate(fields)}


def record(db: sqlite_utils.Database, *, sweep_id: int, marketplace: str, kind: str,
           brand: str | None, campaign: str | None, plan: str, status: str, listings: int,
           pages: int, coverage: dict[str, int], degraded: list[str]) -> None:
    """Keep one marketplace's figures for one sweep (a resumed sweep replaces its row)."""
    with db.conn:
        db.conn.execute(
            "insert or replace into marketplace_health (sweep_id, marketplace, kind, brand, "
            "campaign, plan, status, listings, pages, coverage, degraded, recorded_at) "
            "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [sweep_id, marketplace, kind, brand, campaign, plan, status, listings, pages,
             json.dumps(coverage, sort_keys=True), json.dumps(degraded), now()])


def history(db: sqlite_utils.Database, *, marketplace: str, kind: str, brand: str | None,
            campaign: str | None, before: int, limit: int) -> list[dict[str, Any]]:
    """The last ``limit`` healthy (``ok``) sweeps of the same brand (or campaign) on
    ``marketplace`` before sweep ``before``, newest first."""
    rows = db.conn.execute(
        "select sweep_id, plan, listings, pages, coverage from marketplace_health where "
        "marketplace = ? and kind = ? and brand is ? and campaign is ? and sweep_id < ? "
        "and status = 'ok' order by sweep_id desc limit ?",
        [marketplace, kind, brand, campaign, before, limit]).fetchall()
    return [{"sweep_id": r[0], "plan": r[1], "listings": r[2], "pages": r[3],
             "coverage": json.loads(r[4])} for r in rows]


def series(db: sqlite_utils.Database, *, brand: str | None, campaign: str | None,
           upto: int, sweeps: int) -> list[dict[str, Any]]:
    """Every marketplace's figures in the last ``sweeps`` sweeps of the brand (or
    campaign) up to ``upto``, oldest first, for the report."""
    if "marketplace_health" not in db.table_names():
        return []
    rows = db.conn.execute(
        "select h.sweep_id, h.marketplace, h.status, h.listings, h.pages, h.coverage, "
        "h.degraded from "
        "marketplace_health h where h.brand is ? and h.campaign is ? and h.sweep_id in "
        "(select distinct sweep_id from marketplace_health where brand is ? and campaign "
        "is ? and sweep_id <= ? order by sweep_id desc limit ?) order by h.sweep_id, "
        "h.marketplace", [brand, campaign, brand, campaign, upto, sweeps]).fetchall()
    return [{"sweep_id": r[0], "marketplace": r[1], "status": r[2], "listings": r[3],
             "pages": r[4], "coverage": json.loads(r[5]),
             "degraded": json.loads(r[6] or "[]")} for r in rows]
