"""The queries that reports, review (the CLI and the workbench's queue), drafting, the
backtest and a sweep's writes run are planned on indexes, not full scans of the big tables.

Nothing here repeats the store's SQL: each scenario calls the real functions on a small
store with ``sqlite3``'s trace callback on, and every SELECT they ran is then planned with
``EXPLAIN QUERY PLAN``. The store is not ANALYZEd (brandsweep never runs ANALYZE), so
SQLite plans it as it plans a user's store of any size: with its default estimates. The
timings on a store of a million listings are bench/store_scale.py's.

What passes: a SEARCH on an index, a scan of a virtual table (FTS5, json_each), and a scan
in the order the statement asks for under a LIMIT (it stops when the page is full: the
oldest cases first). What the plan cannot tell: how many rows a SEARCH on a prefix reads
(all of a brand's cases, for drafting, by design); the bench measures those.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from crawler.cases import lifecycle as cases
from crawler.items import Listing
from crawler.notices import drafting
from crawler.profiles import loading as profiles
from crawler.reports.build import build
from crawler.rules import files as ruleset
from crawler.rules import loader
from crawler.rules.backtest import row_of
from crawler.store import Store, evidence, monitor
from crawler.store import networks as store_networks

# the tables that grow with every sweep (a million rows and more in a team's store)
BIG = {"listings", "observations", "evaluations", "cases", "case_events"}

# (scenario, table) -> why a full scan is what that query must do
EXCEPTIONS = {
    ("backtest", "listings"): "a backtest judges every listing its brand's keywords found: "
                              "it reads them all, once, in one pass",
    ("review count all", "cases"): "counting every case (review list with no filter, past "
                                   "its first page) reads the smallest index of cases whole",
}


def _listing(market: str, i: int, title: str, price: str, seller: str) -> Listing:
    return Listing(market, f"{market}-{i}", f"http://127.0.0.1:9/{market}/{i}", title,
                   "acme", "http", price=price, currency="USD", seller=seller,
                   seller_location="Putian, China", description=f"{title} description")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """Two sweeps of acme: replicas (takedown), fair-priced ones (review) and genuine
    listings, cases with evidence, and drafts; the second sweep sees lower prices."""
    store = Store(tmp_path_factory.mktemp("plans") / "store.db")
    store.migrate()
    rs = loader.load(ruleset.brand_file("acme"))
    for n, price in ((1, "30.00"), (2, "20.00")):
        sweep = store.start_sweep(kind="sweep", brand="acme", campaign=None,
                                  marketplaces=["megamart", "bazaar"], keywords=["acme"],
                                  max_pages=1)
        batch = [_listing(m, i, "Acme Pulse X2 Wireless Headphones Replica", price,
                          f"replica_king_{i % 3}") for m in ("megamart", "bazaar")
                 for i in range(12)]
        batch += [_listing("bazaar", 100 + i, "Acme Trailpack 30L Hiking Backpack", "95.00",
                           "fashion_zone_77") for i in range(3)]
        batch += [_listing("megamart", 200 + i, "Acme Vector Smartwatch", "249.00",
                           "acme-official") for i in range(3)]
        store.save(sweep, batch)
        rows = [row_of(r, rs.evaluate(r)) for r in store.listings_for(["acme"],
                                                                       brand="acme")]
        store.save_evaluations("acme", rows, sweep)
        cases.sync(store, "acme", "tester", sweep)
        for m in ("megamart", "bazaar"):
            monitor.record(store.db, sweep_id=sweep, marketplace=m, kind="sweep",
                           brand="acme", campaign=None, plan="p", status="ok", listings=15,
                           pages=1, coverage={"title": 15}, degraded=[])
        store.finish_sweep(sweep, "ok", {"marketplaces": {"megamart": {"status": "ok"}}})
        for c in cases.cases(store, "acme"):
            if n == 1 and c["id"] % 2:
                evidence.save(store, {
                    "case_id": c["id"], "url": "u", "captured_at": "2026-11-23T00:00:00Z",
                    "http_status": 200, "screenshot": f"{c['id']}.png",
                    "screenshot_sha256": "0" * 64, "html": f"{c['id']}.html",
                    "html_sha256": "0" * 64, "image_url": None, "image_sha256": None,
                    "title": None, "price": None, "currency": "USD"})
    # two accounts of one operator on each marketplace: the report's networks section
    store_networks.save(store, "acme", [
        ("acme", m, f"replica_king_{k}", "net-1", 2, '["same photo"]', "2026-11-23")
        for m in ("megamart", "bazaar") for k in (0, 1)])
    review = [c["id"] for c in cases.cases(store, "acme", stage="review")]
    cases.transition(store, review[:1], "confirm", "dana", "known seller")
    drafting.draft(store, rs, profiles.load_profiles(), "tester")
    assert cases.count(store) > 20 and {c["stage"] for c in cases.cases(store)} == {
        "review", "takedown"}
    return store


def _traced(store: Store, call: Callable[[], Any]) -> list[str]:
    """The statements ``call`` ran on the store's connection, values filled in."""
    seen: list[str] = []
    store.conn.set_trace_callback(seen.append)
    try:
        call()
    finally:
        store.conn.set_trace_callback(None)
    return seen


def _aliases(sql: str) -> dict[str, str]:
    """alias -> table of each ``from``/``join`` in ``sql``; a view's own aliases too
    (SQLite flattens a view into the query and names its tables in the plan)."""
    out: dict[str, str] = {}
    for table, alias in re.findall(r"\b(?:from|join)\s+\[?(\w+)\]?(?:\s+(?:as\s+)?(?!on\b|"
                                   r"where\b|join\b|left\b|order\b|group\b|limit\b)(\w+))?",
                                   sql, flags=re.I):
        out[alias or table] = table
        out.setdefault(table, table)
    return out


def _plan(store: Store, sql: str) -> list[str]:
    return [row[3] for row in store.conn.execute("explain query plan " + sql)]


def full_scans(store: Store, scenario: str, statements: list[str]
               ) -> Iterator[tuple[str, str, str]]:
    """(table, plan line, statement) of each full scan of a big table."""
    views = {name: sql for name, sql in store.conn.execute(
        "select name, sql from sqlite_master where type = 'view'")}
    indexes = dict(store.conn.execute(
        "select name, tbl_name from sqlite_master where type = 'index'").fetchall())
    for sql in statements:
        head = sql.lstrip().lower()
        if not head.startswith(("select", "with")) or "sqlite_master" in head:
            continue
        aliases = {}
        for view, text in views.items():
            if re.search(rf"\b{view}\b", sql):
                aliases.update(_aliases(text))
        aliases.update({a: t for a, t in _aliases(sql).items() if t not in views})
        plan = _plan(store, sql)
        # a scan in the order asked for, under a LIMIT, stops once the page is full
        paged = re.search(r"\blimit\b", sql, re.I) is not None and not any(
            "TEMP B-TREE FOR ORDER BY" in line for line in plan)
        for line in plan:
            found = re.match(r"SCAN (\w+)(?: USING (?:COVERING )?INDEX (\w+))?", line)
            if not found or "VIRTUAL TABLE" in line:
                continue
            alias, index = found.groups()
            table = indexes.get(index or "", aliases.get(alias, alias))
            if table in BIG and not paged and (scenario, table) not in EXCEPTIONS:
                yield table, line, sql


def _report(store: Store) -> None:
    build(store, None, "html")
    build(store, 1, "json")


def _review_list(store: Store) -> None:
    for filters in ({}, {"stage": "review"}, {"marketplace": "bazaar"},
                    {"status": "confirmed", "stage": "review"}, {"brand": "acme"}):
        cases.cases(store, limit=200, **filters)  # type: ignore[arg-type]


def _review_count_all(store: Store) -> None:
    cases.count(store)


def _review_count(store: Store) -> None:
    for filters in ({"stage": "review"}, {"marketplace": "bazaar"},
                    {"status": "confirmed", "stage": "review"}, {"brand": "acme"}):
        cases.count(store, **filters)  # type: ignore[arg-type]


def _review_show(store: Store) -> None:
    cases.case(store, cases.cases(store, limit=1)[0]["id"])


def _queue(store: Store) -> None:
    store.case_queue()
    store.case_queue(stage="takedown", marketplace="bazaar")
    store.case_counts()
    store.case_counts(seller="replica_king_1")
    store.case_facets()


def _listings(store: Store) -> None:
    store.listings_with_verdicts(search="pulse wireless", limit=201)
    store.listings_with_verdicts(search="replica", brand="acme", marketplace="megamart",
                                 stage="takedown", limit=201)
    store.listings_with_verdicts(limit=201)
    store.listings_with_verdicts(marketplace="bazaar", limit=201)


def _drafting(store: Store) -> None:
    rs = loader.load(ruleset.brand_file("acme"))
    markets = profiles.load_profiles()
    drafting.draft(store, rs, markets, "tester")
    drafting.draft_storefronts(store, rs, markets, "tester")


def _backtest(store: Store) -> None:
    list(store.listings_for(["acme"], brand="acme"))
    list(store.listings_for(["acme"], brand="acme", shard=(1, 2)))


def _save(store: Store) -> None:
    sweep = store.start_sweep(kind="sweep", brand="acme", campaign=None,
                              marketplaces=["bazaar"], keywords=["acme"], max_pages=1)
    store.save(sweep, [_listing("bazaar", i, "Acme Pulse X2 Wireless Headphones", "30.00",
                                "s") for i in range(5, 15)])
    store.finish_sweep(sweep, "ok", {})


SCENARIOS: dict[str, Callable[[Store], None]] = {
    "report": _report, "review list": _review_list, "review count": _review_count,
    "review count all": _review_count_all,
    "review show": _review_show, "queue": _queue, "listings": _listings,
    "drafting": _drafting, "backtest": _backtest, "save": _save}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_no_full_scan_of_a_big_table(store: Store, scenario: str) -> None:
    statements = _traced(store, lambda: SCENARIOS[scenario](store))
    selects = [s for s in statements if s.lstrip().lower().startswith(("select", "with"))]
    assert selects, f"{scenario}: no query was captured"
    scans = list(full_scans(store, scenario, statements))
    assert not scans, "\n".join(f"{scenario}: {line} ({table}) in: {sql}"
                                for table, line, sql in scans)


def test_the_checker_sees_a_full_scan(store: Store) -> None:
    # the check itself: a query on an unindexed column of a big table is caught, with the
    # table named through its alias, through a view, and through an index it walks
    sql = ["select * from listings l where l.units_sold = 5",
           "select * from case_listings c where c.score = 7",
           "select count(*) from cases"]
    assert [t for t, _line, _sql in full_scans(store, "test", sql)] == [
        "listings", "cases", "cases"]
    assert all(len(why.split()) > 5 for why in EXCEPTIONS.values())  # each says why


def test_plans_use_the_new_indexes(store: Store) -> None:
    # what migration 0013 is for, spelled out: in the report, the cases a sweep opened,
    # the suspects of its last sweeps, a seller network's cases from its accounts (not
    # from every case of the brand); a listing's verdicts of every brand
    statements = _traced(store, lambda: _report(store))

    def plan_of(marker: str) -> str:
        found = [s for s in statements if marker in s]
        assert found, marker
        return "\n".join(_plan(store, found[0]))

    assert "USING INDEX idx_cases_sweep_id" in plan_of("c.sweep_id = ")
    assert "idx_evaluations_staged" in plan_of("o.sweep_id in")
    network = plan_of("from seller_networks n cross join listings l on l.seller")
    assert network.splitlines()[0].startswith("SEARCH n USING INDEX")
    assert "idx_listings_seller" in network
    assert "idx_observations_listing_sweep" in plan_of("max(q.sweep_id)")
    searched = _traced(store, lambda: store.listings_with_verdicts(search="pulse", limit=5))
    assert "idx_evaluations_marketplace_listing_id" in "\n".join(
        _plan(store, next(s for s in searched if "listings_fts" in s)))


def test_captured_sql_runs_as_captured(store: Store, tmp_path: Path) -> None:
    # the trace gives each statement with its values filled in: planning it is planning
    # what ran (a statement the store prepares with parameters, here a review page)
    statements = _traced(store, lambda: cases.cases(store, stage="review", limit=3))
    ran = [s for s in statements if s.lower().startswith("select")]
    assert ran and "'review'" in ran[-1] and "?" not in ran[-1]
    assert len(store.conn.execute(ran[-1]).fetchall()) == 3


def test_report_lookups_end_in_the_covering_indexes(store: Store) -> None:
    # migration 0015: a price drop's previous price, and a seller network's listings,
    # come from index entries alone (no seek of each row: on a big store, one random page
    # per listing); a paged search ranks only in the full-text index
    statements = _traced(store, lambda: _report(store))

    def plan_of(marker: str) -> list[str]:
        found = [s for s in statements if marker in s]
        assert found, marker
        return _plan(store, found[0])

    drops = plan_of("max(q.sweep_id)")
    assert "SEARCH p USING COVERING INDEX idx_observations_listing_sweep" in "\n".join(drops)
    for marker in ("select count(*) from seller_networks n", "select i.thumbnail from "):
        assert "SEARCH l USING COVERING INDEX idx_listings_seller" in "\n".join(
            plan_of(marker))
    searched = _traced(store, lambda: store.listings_with_verdicts(search="pulse", limit=5))
    ranked = next(s for s in searched if s.startswith("with r as"))
    assert "order by rowid desc limit" in ranked
    plan = _plan(store, ranked)
    assert any("VIRTUAL TABLE INDEX" in line for line in plan)
    assert not any(re.match(r"SCAN [lec]\b", line) for line in plan), plan
