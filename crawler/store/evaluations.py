"""Evaluations: the current verdict of each brand's rule set on each listing."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from crawler.store.db import Connection, now


def save(store: Connection, brand: str,
         rows: Iterable[tuple[str, str, str, int, str | None, str]],
         sweep_id: int | None = None) -> int:
    """Store (marketplace, listing_id, version, score, stage, matches JSON) rows in one
    transaction, replacing the brand's previous verdicts; return how many."""
    at = now()
    data = [(brand, m, lid, version, score, stage, matches, at, sweep_id)
            for m, lid, version, score, stage, matches in rows]
    with store.transaction() as conn:
        conn.executemany(
            "insert into evaluations (brand, marketplace, listing_id, version, score, "
            "stage, matches, evaluated_at, sweep_id) values (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "on conflict (brand, marketplace, listing_id) do update set "
            "version = excluded.version, score = excluded.score, stage = excluded.stage, "
            "matches = excluded.matches, evaluated_at = excluded.evaluated_at, "
            "sweep_id = coalesce(excluded.sweep_id, evaluations.sweep_id)", data)
    return len(data)


def stage_counts(store: Connection, brand: str, sweep_id: int | None = None
                 ) -> dict[str, int]:
    """Listings per stage for ``brand`` (only those seen by ``sweep_id`` if given)."""
    sql = ("select e.stage, count(*) as n from evaluations e where e.brand = ? and "
           "e.stage is not null")
    params: list[Any] = [brand]
    if sweep_id is not None:
        sql += (" and exists (select 1 from observations o where o.sweep_id = ? and "
                "o.marketplace = e.marketplace and o.listing_id = e.listing_id)")
        params.append(sweep_id)
    return {r["stage"]: r["n"] for r in store.db.query(sql + " group by e.stage", params)}


def of_listing(store: Connection, brand: str, marketplace: str, listing_id: str
               ) -> dict[str, Any] | None:
    """The brand's verdict on the listing (``matches`` decoded), or None."""
    rows = list(store.db.query(
        "select version, score, stage, matches, evaluated_at from evaluations where "
        "brand = ? and marketplace = ? and listing_id = ?", [brand, marketplace, listing_id]))
    return dict(rows[0], matches=json.loads(rows[0]["matches"])) if rows else None


def suspects_by_sweep(store: Connection, brand: str | None, sweep_ids: list[int]
                      ) -> dict[int, dict[str, int]]:
    """Per sweep of ``sweep_ids`` and marketplace, how many listings the sweep saw that
    the brand stages."""
    out: dict[int, dict[str, int]] = {}
    # from the brand's staged listings (the partial index of 0013: a tenth of the
    # verdicts) to their few sightings, not from every sighting of ten sweeps to verdicts;
    # `+o.sweep_id`: read a listing's sightings in one range, not one probe per sweep
    for sweep_id, market, n in store.conn.execute(
            "select o.sweep_id, o.marketplace, count(*) from evaluations e cross join "
            "observations o on o.marketplace = e.marketplace and o.listing_id = "
            "e.listing_id where e.brand = ? and e.stage is not null and +o.sweep_id in "
            "(select value from json_each(?)) group by o.sweep_id, o.marketplace",
            [brand, json.dumps(sweep_ids)]):
        out.setdefault(sweep_id, {})[market] = n
    return out
