"""What a sweep report says, gathered from the store: new cases by stage and marketplace,
new drafts, price drops, relistings, each marketplace's health, the suspects and the
field coverage per marketplace over the brand's last sweeps, and the brand's takedown
outcomes."""

from __future__ import annotations

import json
from typing import Any

from crawler.exceptions import NoStore, known
from crawler.reports import outcomes
from crawler.store import Store, cases, evaluations, listings, notices, sweeps
from crawler.store import networks as network_rows

HISTORY = 10  # sweeps shown in the history chart
THUMBNAILS = 24  # new cases shown with their screenshot


def last_sweep(store: Store) -> int:
    found = sweeps.last_finished(store)
    if found is None:
        raise NoStore(f"{store.path} holds no finished sweep yet: run `brandsweep sweep "
                      "--brand NAME` first")
    return found


def gather(store: Store, sweep_id: int) -> dict[str, Any]:
    """Everything the report shows about sweep ``sweep_id``."""
    sweep = known(sweeps.find(store, sweep_id), NoStore, "sweep", sweep_id, store.path,
                  "`brandsweep report --last` reports the latest")
    stats = json.loads(sweep["stats"] or "{}")
    brand = sweep["brand"]
    new_cases = cases.opened_by(store, sweep_id)
    by_stage: dict[str, dict[str, int]] = {}
    for c in new_cases:
        row = by_stage.setdefault(c["stage"] or "none", {})
        row[c["marketplace"]] = row.get(c["marketplace"], 0) + 1
    drafts = notices.drafted_by(store, sweep_id)
    # a price drop: this sweep saw a lower price than the listing's previous observation
    drops = listings.price_drops(store, sweep_id)
    relistings = cases.linked_by(store, sweep_id)
    return {
        "sweep": {k: sweep[k] for k in ("id", "kind", "brand", "campaign", "started",
                                        "finished", "status", "resumes")},
        "elapsed_seconds": stats.get("elapsed_seconds"),
        "ruleset_version": stats.get("ruleset_version"),
        "health": {name: _health(m) for name, m in stats.get("marketplaces", {}).items()},
        "new_cases": {"count": len(new_cases), "by_stage": by_stage,
                      "items": new_cases},
        "new_drafts": drafts,
        "price_drops": drops,
        "relistings": relistings,
        "history": history(store, brand, sweep_id),
        "networks": networks(store, brand) if brand else [],
        "problem": stats.get("problem"),
        "coverage": coverage(store, brand, sweep["campaign"], sweep_id),
        "outcomes": outcomes.gather(store, brand).as_dict() if brand else None,
    }


def _health(m: dict[str, Any]) -> dict[str, Any]:
    pages = m.get("pages", {})
    return {"status": m.get("status"), "pages": sum(pages.values()),
            "listings": m.get("listings", 0), "new": m.get("new_listings", 0),
            "retries": m.get("retries", 0), "render_mode": m.get("render_mode", "-"),
            "blocked": m.get("status") == "blocked",
            "extraction_failed": m.get("status") == "extraction_failed",
            "reason": m.get("reason"),
            # prices a page showed that were not stored (negative, NaN, absurd, unknown)
            "price_warnings": m.get("price_warnings", 0),
            # what fell against the marketplace's history (crawler.sweep.monitor)
            "degraded": [d["text"] for d in m.get("degraded", [])]}


def coverage(store: Store, brand: str | None, campaign: str | None, upto: int
             ) -> dict[str, Any]:
    """Each marketplace's field coverage (share of listings with each field) in the
    brand's last sweeps, with the fields that made a sweep ``degraded``."""
    from crawler.store import monitor as store_monitor

    rows = store_monitor.series(store.db, brand=brand, campaign=campaign, upto=upto,
                                sweeps=HISTORY)
    sweeps = sorted({r["sweep_id"] for r in rows})
    at = {sweep_id: i for i, sweep_id in enumerate(sweeps)}
    markets: dict[str, dict[str, Any]] = {}
    for r in rows:
        blank: list[Any] = [None] * len(sweeps)
        m = markets.setdefault(r["marketplace"], {"fields": {}, "listings": list(blank),
                                                  "status": list(blank),
                                                  "degraded": list(blank)})
        i = at[r["sweep_id"]]
        m["listings"][i] = r["listings"]
        m["status"][i] = r["status"]
        m["degraded"][i] = r["degraded"]
        for name, n in r["coverage"].items():
            m["fields"].setdefault(name, list(blank))[i] = (
                round(n / r["listings"], 4) if r["listings"] else None)
    return {"sweeps": sweeps, "markets": dict(sorted(markets.items()))}


NETWORKS = 30  # the largest seller networks a report shows
NETWORK_PHOTOS = 4


def networks(store: Store, brand: str) -> list[dict[str, Any]]:
    """The brand's seller networks of two or more accounts, largest first: members, the
    network's cases, and the photos its accounts show (thumbnail paths relative to the
    store's images folder)."""
    out = []
    for network, _size, reasons in network_rows.largest(store, brand, NETWORKS):
        members = [f"{m}: {s}" for m, s in network_rows.members(store, brand, network)]
        count = network_rows.cases(store, brand, network)
        photos = network_rows.photos(store, brand, network, NETWORK_PHOTOS)
        out.append({"network": network, "members": members, "cases": count,
                    "linked_by": json.loads(reasons or "[]"), "photos": photos})
    return out


def history(store: Store, brand: str | None, upto: int) -> dict[str, Any]:
    """Suspects (listings at a stage) seen per marketplace in the brand's last sweeps."""
    ids = sweeps.finished_before(store, brand, upto, HISTORY)
    series: dict[str, list[int]] = {}
    seen = evaluations.suspects_by_sweep(store, brand, ids)
    for i, sweep_id in enumerate(ids):
        for market, n in seen.get(sweep_id, {}).items():
            series.setdefault(market, [0] * len(ids))[i] = n
    return {"sweeps": ids, "series": series}
