"""Listings: ``save`` returns how many were new, with the rows it wrote as they are now
stored (first sighting kept, keywords merged, a description no page erases)."""

from __future__ import annotations

import json
from pathlib import Path

from crawler.items import Listing
from crawler.store import Saved, Store


def _listing(keyword: str, description: str | None = "the description") -> Listing:
    return Listing(marketplace="bazaar", listing_id="123", url="http://x/itm/123",
                   title="Acme Pulse X2", keyword=keyword, render_mode="http",
                   price="10.00", currency="USD", description=description)


def test_save_returns_what_it_wrote(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    store.migrate()
    first = store.start_sweep(kind="sweep", brand="acme", campaign=None,
                              marketplaces=["bazaar"], keywords=["acme"], max_pages=1)
    saved = store.save(first, [_listing("acme")], campaign="launch")
    assert isinstance(saved, Saved) and saved == 1 and len(saved.rows) == 1
    second = store.start_sweep(kind="sweep", brand="acme", campaign=None,
                               marketplaces=["bazaar"], keywords=["acme"], max_pages=1)
    again = store.save(second, [_listing("acme headphones", description=None)])
    assert again == 0
    stored = store.db.table("listings").get(("bazaar", "123"))
    assert again.rows == [stored]
    assert stored["first_sweep"] == first and stored["last_sweep"] == second
    assert stored["description"] == "the description"
    assert json.loads(stored["keywords"]) == ["acme", "acme headphones"]
    assert json.loads(stored["campaigns"]) == ["launch"]
    assert store.save(second, []) == 0 and store.save(second, []).rows == []
