"""What a sweep report says, gathered from the store: new cases by stage and marketplace,
new drafts, price drops, relistings, each marketplace's health, the suspects and the
field coverage per marketplace over the brand's last sweeps, and the brand's takedown
outcomes."""

from __future__ import annotations

import json
from typing import Any

from crawler.exceptions import NoStore
from crawler.reports import outcomes
from crawler.store import Store

HISTORY = 10  # sweeps shown in the history chart
THUMBNAILS = 24  # new cases shown with their screenshot


def last_sweep(store: Store) -> int:
    row = store.db.conn.execute("select max(id) from sweeps where finished is not null"
                                ).fetchone()
    if row is None or row[0] is None:
        raise NoStore(f"{store.path} holds no finished sweep yet: run `brandsweep sweep "
                      "--brand NAME` first")
    return int(row[0])


def gather(store: Store, sweep_id: int) -> dict[str, Any]:
    """Everything the report shows about sweep ``sweep_id``."""
    found = list(store.db.query("select * from sweeps where id = ?", [sweep_id]))
    if not found:
        raise NoStore(f"no sweep {sweep_id} in {store.path}; `brandsweep report --last` "
                      "reports the latest")
    sweep = dict(found[0])
    stats = json.loads(sweep["stats"] or "{}")
    brand = sweep["brand"]
    conn = store.db.conn
    new_cases = [dict(zip(("id", "marketplace", "listing_id", "stage", "score", "title",
                           "price", "currency", "seller", "url", "screenshot",
                           "relisted_from"), r, strict=True)) for r in conn.execute(
        "select c.id, c.marketplace, c.listing_id, c.stage, c.score, l.title, l.price, "
        "l.currency, l.seller, l.url, v.screenshot, c.relisted_from from cases c join "
        "listings l on l.marketplace = c.marketplace and l.listing_id = c.listing_id "
        "left join evidence v on v.case_id = c.id where c.sweep_id = ? order by "
        "c.score desc, c.id", [sweep_id])]
    by_stage: dict[str, dict[str, int]] = {}
    for c in new_cases:
        row = by_stage.setdefault(c["stage"] or "none", {})
        row[c["marketplace"]] = row.get(c["marketplace"], 0) + 1
    drafts = [dict(zip(("id", "program", "marketplace", "seller", "items"), r, strict=True))
              for r in conn.execute(
        "select n.id, n.program, n.marketplace, n.seller, (select count(*) from "
        "notice_items i where i.notice_id = n.id) from notices n where n.sweep_id = ? "
        "order by n.id", [sweep_id])]
    # a price drop: this sweep saw a lower price than the listing's previous observation
    drops = [dict(zip(("marketplace", "listing_id", "title", "old", "new", "currency"), r,
                      strict=True)) for r in conn.execute(
        "select o.marketplace, o.listing_id, o.title, p.price, o.price, o.currency from "
        "observations o join observations p on p.marketplace = o.marketplace and "
        "p.listing_id = o.listing_id and p.sweep_id = (select max(q.sweep_id) from "
        "observations q where q.marketplace = o.marketplace and q.listing_id = "
        "o.listing_id and q.sweep_id < o.sweep_id) where o.sweep_id = ? and "
        "cast(o.price as real) < cast(p.price as real) order by o.marketplace, "
        "o.listing_id", [sweep_id])]
    relistings = [dict(zip(("case", "of", "marketplace", "title"), r, strict=True))
                  for r in conn.execute(
        "select c.id, c.relisted_from, c.marketplace, l.title from case_events e join "
        "cases c on c.id = e.case_id join listings l on l.marketplace = c.marketplace and "
        "l.listing_id = c.listing_id where e.sweep_id = ? and e.action = 'link' "
        "order by c.id", [sweep_id])]
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
            # what fell against the marketplace's history (crawler.monitor)
            "degraded": [d["text"] for d in m.get("degraded", [])]}


def coverage(store: Store, brand: str | None, campaign: str | None, upto: int
             ) -> dict[str, Any]:
    """Each marketplace's field coverage (share of listings with each field) in the
    brand's last sweeps, with the fields that made a sweep ``degraded``."""
    from crawler import store_monitor

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
    conn = store.db.conn
    if "seller_networks" not in store.db.table_names():
        return []
    out = []
    for network, _size, reasons in conn.execute(
            "select network, max(size), max(reasons) from seller_networks where brand = ? "
            "and size > 1 group by network order by max(size) desc, network limit ?",
            [brand, NETWORKS]).fetchall():
        members = [f"{m}: {s}" for m, s in conn.execute(
            "select marketplace, seller from seller_networks where brand = ? and "
            "network = ? order by 1, 2", [brand, network])]
        cases = conn.execute(
            "select count(*) from cases c join listings l on l.marketplace = c.marketplace "
            "and l.listing_id = c.listing_id join seller_networks n on n.brand = c.brand "
            "and n.marketplace = c.marketplace and n.seller = l.seller where c.brand = ? "
            "and n.network = ? and c.status != 'dismissed'", [brand, network]).fetchone()[0]
        photos = [r[0] for r in conn.execute(
            "select i.thumbnail from seller_networks n join listings l on l.marketplace = "
            "n.marketplace and l.seller = n.seller join listing_images li on "
            "li.marketplace = l.marketplace and li.listing_id = l.listing_id join images i "
            "on i.sha256 = li.sha256 where n.brand = ? and n.network = ? group by i.sha256 "
            "order by count(*) desc, i.sha256 limit ?", [brand, network, NETWORK_PHOTOS])]
        out.append({"network": network, "members": members, "cases": cases,
                    "linked_by": json.loads(reasons or "[]"), "photos": photos})
    return out


def history(store: Store, brand: str | None, upto: int) -> dict[str, Any]:
    """Suspects (listings at a stage) seen per marketplace in the brand's last sweeps."""
    sweeps = [r[0] for r in store.db.conn.execute(
        "select id from sweeps where brand is ? and id <= ? and finished is not null "
        "order by id desc limit ?", [brand, upto, HISTORY])][::-1]
    series: dict[str, list[int]] = {}
    for i, sweep_id in enumerate(sweeps):
        for market, n in store.db.conn.execute(
                "select o.marketplace, count(*) from observations o join evaluations e on "
                "e.brand = ? and e.marketplace = o.marketplace and e.listing_id = "
                "o.listing_id where o.sweep_id = ? and e.stage is not null group by "
                "o.marketplace", [brand, sweep_id]):
            series.setdefault(market, [0] * len(sweeps))[i] = n
    return {"sweeps": sweeps, "series": series}
