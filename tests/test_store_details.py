"""Detail readings in the store (``crawler.store.details``): one per listing, the latest
replacing the one before; a marketplace's recent cards in one query, values by key."""

from __future__ import annotations

from pathlib import Path

from crawler.store import Store, details, now


def _store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "d.db")
    store.migrate()
    return store


def test_a_reading_replaces_the_one_before_and_only_recent_ones_are_fresh(
        tmp_path: Path) -> None:
    store = _store(tmp_path)
    card = ("A1", "Acme headphones", "12.50", None, "GBP")
    details.record(store, "megamart", 1, [(card, "2000-01-01T00:00:00.000000Z",
                                           {"seller": "old"})])
    assert list(details.fresh(store, "megamart", 7)) == []  # older than a week
    assert list(details.fresh(store, "megamart", 365 * 100)) == [card]
    later = ("A1", "Acme headphones", "9.99", None, "GBP")
    details.record(store, "megamart", 2, [(later, now(), {"seller": "new",
                                                                "image_urls": ["u"]})])
    assert list(details.fresh(store, "megamart", 7)) == [later]
    assert list(details.fresh(store, "bazaar", 7)) == []
    assert details.values(store, "megamart", "A1") == {"seller": "new", "image_urls": ["u"]}
    assert details.values(store, "megamart", "B2") is None


def test_the_readings_queries_use_the_primary_key(tmp_path: Path) -> None:
    store = _store(tmp_path)
    plans = [" ".join(str(r[-1]) for r in store.conn.execute(f"explain query plan {sql}",
                                                            params))
             for sql, params in (
                 ("select fields from detail_readings where marketplace = ? and "
                  "listing_id = ?", ["m", "x"]),
                 ("select listing_id from detail_readings where marketplace = ? and "
                  "fetched_at >= ?", ["m", "2000"]))]
    assert all("USING INDEX sqlite_autoindex_detail_readings_1" in p for p in plans), plans
