"""The SQLite store: migrations, listing identity, keyword merging, history, FTS."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.items import Listing
from crawler.store import MIGRATIONS, Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "t.db")
    s.migrate()
    return s


def _listing(keyword: str, price: str = "10.00", title: str = "Acme Pulse X2") -> Listing:
    return Listing(marketplace="bazaar", listing_id="123", url="http://x/itm/123", title=title,
                   keyword=keyword, render_mode="http", price=price, currency="USD")


def test_migrations_apply_once(store: Store) -> None:
    assert store.migrate() == []
    names = [r["name"] for r in store.db.table("_migrations").rows]
    assert names == [name for name, _ in MIGRATIONS]
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_same_listing_two_keywords_is_one_row_with_both(store: Store) -> None:
    sweep = store.start_sweep(kind="sweep", brand="acme", campaign=None,
                              marketplaces=["bazaar"], keywords=["acme", "acme headphones"],
                              max_pages=1)
    assert store.save(sweep, [_listing("acme")]) == 1
    assert store.save(sweep, [_listing("acme headphones")]) == 0
    rows = list(store.db.table("listings").rows)
    assert len(rows) == 1
    assert json.loads(rows[0]["keywords"]) == ["acme", "acme headphones"]
    obs = list(store.db.table("observations").rows)
    assert len(obs) == 1 and json.loads(obs[0]["keywords"]) == ["acme", "acme headphones"]


def test_history_survives_in_observations(store: Store) -> None:
    first = store.start_sweep(kind="sweep", brand="acme", campaign=None,
                              marketplaces=["bazaar"], keywords=["acme"], max_pages=1)
    store.save(first, [_listing("acme", "10.00")])
    store.finish_sweep(first, "ok", {})
    second = store.start_sweep(kind="sweep", brand="acme", campaign=None,
                               marketplaces=["bazaar"], keywords=["acme"], max_pages=1)
    store.save(second, [_listing("acme", "7.50", "Acme Pulse X2 SALE")])
    row = store.db.table("listings").get(("bazaar", "123"))
    assert row["price"] == "7.50" and row["first_sweep"] == first and row["last_sweep"] == second
    prices = [r["price"] for r in store.db.query(
        "select price from observations order by sweep_id")]
    assert prices == ["10.00", "7.50"]


def test_campaign_tags_accumulate(store: Store) -> None:
    sweep = store.start_sweep(kind="crawl", brand=None, campaign="launch",
                              marketplaces=["bazaar"], keywords=["acme"], max_pages=1)
    store.save(sweep, [_listing("acme")], campaign="launch")
    store.save(sweep, [_listing("acme")], campaign="spring")
    row = store.db.table("listings").get(("bazaar", "123"))
    assert json.loads(row["campaigns"]) == ["launch", "spring"]


def test_full_text_search_over_titles(store: Store) -> None:
    sweep = store.start_sweep(kind="sweep", brand="acme", campaign=None,
                              marketplaces=["bazaar"], keywords=["acme"], max_pages=1)
    store.save(sweep, [_listing("acme", title="Acme Pulse X2 Replica AAA")])
    assert [r["listing_id"] for r in store.search("replica")] == ["123"]
    assert store.search("velora") == []


def test_full_text_index_follows_text_changes_only(store: Store) -> None:
    # a sighting with the same text leaves the index alone (0013's trigger condition);
    # a changed title or a description found later is searchable, the old title is not
    sweep = store.start_sweep(kind="sweep", brand="acme", campaign=None,
                              marketplaces=["bazaar"], keywords=["acme"], max_pages=1)
    store.save(sweep, [_listing("acme", title="Acme Pulse X2 Replica AAA")])
    changes = store.conn.total_changes
    store.save(sweep, [_listing("acme", title="Acme Pulse X2 Replica AAA")])
    # the listing and its observation, each one upsert: no FTS rows deleted and re-added
    assert store.conn.total_changes - changes == 2
    store.save(sweep, [_listing("acme", title="Acme Trailpack 30L mirror copy")])
    assert [r["listing_id"] for r in store.search("trailpack")] == ["123"]
    assert store.search("replica") == []
    integrity = "insert into listings_fts (listings_fts) values ('integrity-check')"
    store.conn.execute(integrity)  # raises if the index disagrees with the table


def test_a_dead_sweep_is_marked_interrupted(store: Store, tmp_path: Path) -> None:
    code = (f"from crawler.store import Store; s = Store({str(store.path)!r}); s.migrate(); "
            "print(s.start_sweep(kind='sweep', brand='acme', campaign=None, "
            "marketplaces=[], keywords=[], max_pages=1))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    dead = int(done.stdout)
    assert store.sweep(dead)["status"] == "running"
    assert store.mark_interrupted() == 1
    assert store.sweep(dead)["status"] == "interrupted"
    # our own running sweep is alive, so it is left alone
    ours = store.start_sweep(kind="sweep", brand="acme", campaign=None, marketplaces=[],
                             keywords=[], max_pages=1)
    assert store.mark_interrupted() == 0 and store.sweep(ours)["status"] == "running"


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    from crawler.exceptions import StoreUnusable

    for name, content in (("notes.db", b"my notes\n"), ("image.db", b"\x89PNG\r\n\x1a\n")):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(StoreUnusable, match=f"^{path}: is not a SQLite database"):
            Store(path)
        assert path.read_bytes() == content  # left as it was


def test_a_folder_or_an_unwritable_place_is_refused(tmp_path: Path) -> None:
    from crawler.exceptions import StoreUnusable

    with pytest.raises(StoreUnusable, match="is a folder"):
        Store(tmp_path)
    with pytest.raises(StoreUnusable, match="does not exist"):
        Store(tmp_path / "missing" / "x.db")
    with pytest.raises(StoreUnusable, match="cannot write in the folder /proc"):
        Store(Path("/proc/brandsweep-test.db"))


def test_a_locked_store_is_our_own_error(tmp_path: Path) -> None:
    import sqlite3

    from crawler.exceptions import StoreUnusable

    path = tmp_path / "locked.db"
    store = Store(path)
    store.db.execute("PRAGMA busy_timeout = 0")  # SQLite would wait 30 s for the lock
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("begin exclusive")
    try:
        with pytest.raises(StoreUnusable, match=f"^{path}: is locked by another process"):
            store.migrate()
    finally:
        holder.execute("rollback")
        holder.close()
    assert store.migrate()  # once free, it migrates as ever


def test_a_store_that_is_a_fifo_or_a_name_too_long_is_one_line(tmp_path: Path) -> None:
    import os

    from crawler.exceptions import StoreUnusable

    fifo = tmp_path / "fifo.db"
    os.mkfifo(fifo)
    with pytest.raises(StoreUnusable, match="not a regular file"):
        Store(fifo)
    with pytest.raises(StoreUnusable, match="too long"):
        Store(tmp_path / ("x" * 300 + ".db"))
    with pytest.raises(StoreUnusable, match="line break"):
        Store(tmp_path / "a\nb.db")


def test_a_locked_store_at_the_start_of_a_sweep_is_one_line(tmp_path: Path) -> None:
    import sqlite3

    from crawler.exceptions import StoreUnusable

    store = Store(tmp_path / "s.db")
    store.migrate()
    store.db.execute("PRAGMA busy_timeout = 100")
    holder = sqlite3.connect(tmp_path / "s.db")
    holder.execute("begin exclusive")
    try:
        with pytest.raises(StoreUnusable, match="locked by another process"):
            store.start_sweep(kind="crawl", brand=None, campaign="c", marketplaces=["m"],
                              keywords=["k"], max_pages=1)
    finally:
        holder.rollback()
        holder.close()


def test_suspects_by_sweep_counts_staged_listings_each_sweep_saw(store: Store) -> None:
    from crawler.store import evaluations

    seen = {}
    for n, ids in ((1, ["1", "2", "3"]), (2, ["2", "3", "4"])):
        sweep = store.start_sweep(kind="sweep", brand="acme", campaign=None,
                                  marketplaces=["bazaar"], keywords=["acme"], max_pages=1)
        store.save(sweep, [Listing(marketplace=m, listing_id=i, url=f"http://x/{i}",
                                   title="Acme", keyword="acme", render_mode="http")
                           for i in ids for m in ("bazaar", "megamart")])
        seen[n] = sweep
    store.save_evaluations("acme", [(m, i, "v", 60, "review" if i in "134" else None, "[]")
                                    for i in "1234" for m in ("bazaar", "megamart")])
    store.save_evaluations("velora", [("bazaar", "2", "v", 90, "takedown", "[]")])
    assert evaluations.suspects_by_sweep(store, "acme", [seen[1], seen[2]]) == {
        seen[1]: {"bazaar": 2, "megamart": 2}, seen[2]: {"bazaar": 2, "megamart": 2}}
    assert evaluations.suspects_by_sweep(store, "velora", [seen[2]]) == {
        seen[2]: {"bazaar": 1}}
    assert evaluations.suspects_by_sweep(store, None, [seen[1]]) == {}
