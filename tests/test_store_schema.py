"""The store's schema: the ``case_listings`` view, and a store made by an older version
migrating to it."""

from __future__ import annotations

from pathlib import Path

import sqlite_utils

from crawler.items import Listing
from crawler.store import MIGRATIONS, Store, now
from crawler.store import cases as case_rows


def _listing(lid: str, title: str, seller: str) -> Listing:
    return Listing(marketplace="bazaar", listing_id=lid, url=f"http://x/itm/{lid}",
                   title=title, keyword="acme", render_mode="http", price="10.00",
                   currency="USD", seller=seller)


def test_case_listings_is_each_case_with_its_listing(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    store.migrate()
    sweep = store.start_sweep(kind="sweep", brand="acme", campaign=None,
                              marketplaces=["bazaar"], keywords=["acme"], max_pages=1)
    store.save(sweep, [_listing("1", "acme replica", "s1"), _listing("2", "acme copy", "s2"),
                       _listing("3", "acme genuine", "s3")])
    first = case_rows.open_case(store, "acme", "bazaar", "1", "takedown", 90, now(), sweep)
    second = case_rows.open_case(store, "acme", "bazaar", "2", "review", 50, now(), sweep)
    joined = list(store.db.query(
        "select c.id, c.status, l.title, l.seller, l.url from cases c join listings l on "
        "l.marketplace = c.marketplace and l.listing_id = c.listing_id order by c.id"))
    viewed = list(store.db.query(
        "select id, status, title, seller, url from case_listings order by id"))
    assert viewed == joined and [r["id"] for r in viewed] == [first, second]
    # a view, not a copy: the listing's next sighting shows through
    store.save(sweep, [_listing("1", "acme replica NEW", "s1")])
    assert case_rows.relisted_from(store, first)["title"] == "acme replica NEW"  # type: ignore[index]
    assert [r["id"] for r in store.case_queue(seller="s2")] == [second]


def test_a_store_of_an_older_version_gains_the_view(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite_utils.Database(path)
    for name, fn in MIGRATIONS[:9]:  # what 0009 left, as an older brandsweep wrote it
        fn(db)
        db.table("_migrations").insert({"name": name, "applied": now()}, pk="name")
    db.close()
    store = Store(path)
    assert MIGRATIONS[9][0] == "0010_case_listings_view"
    assert store.migrate() == [name for name, _ in MIGRATIONS[9:]]
    assert "case_listings" in store.db.view_names()
    assert store.migrate() == []
