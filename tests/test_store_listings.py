"""Listings: ``save`` returns how many were new, with the rows it wrote as they are now
stored (first sighting kept, keywords merged, a description no page erases)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.items import Listing
from crawler.store import Saved, Store
from crawler.store import listings as store_listings


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


def test_a_page_of_a_search_is_that_page_of_the_whole_search(tmp_path: Path) -> None:
    # the paged search ranks in the index and joins only the best listings: the pages it
    # gives, ties and listings with two brands' verdicts included, are the full result's
    store = Store(tmp_path / "t.db")
    store.migrate()
    sweep = store.start_sweep(kind="sweep", brand="acme", campaign=None,
                              marketplaces=["bazaar"], keywords=["acme"], max_pages=1)
    titles = ["Acme Pulse X2", "Acme Pulse X2 replica", "Pulse", "Acme Pulse X2 headphones",
              "Acme Pulse X2"]  # the same title twice: a tie in rank
    store.save(sweep, [Listing(marketplace=m, listing_id=f"{m}-{i}", url=f"http://x/{i}",
                               title=f"{titles[i % len(titles)]}", keyword="acme",
                               render_mode="http") for m in ("megamart", "bazaar")
                       for i in range(12)])
    verdicts = [(m, f"{m}-{i}", "v1", 50, "review", "[]") for m in ("megamart", "bazaar")
                for i in range(0, 12, 3)]
    store.save_evaluations("acme", verdicts)
    store.save_evaluations("velora", verdicts[:3])
    whole = store.listings_with_verdicts(search="acme pulse")
    assert len(whole) == 20 + 3  # 20 listings match, 3 of them judged by both brands
    for limit in (1, 2, 3, 5, 8, 40):
        for offset in (0, 1, 4, 7):
            assert store.listings_with_verdicts(search="acme pulse", limit=limit,
                                                offset=offset) == \
                whole[offset:offset + limit], (limit, offset)
    one_brand = store.listings_with_verdicts(search="acme pulse", brand="velora")
    assert store.listings_with_verdicts(search="acme pulse", brand="velora", limit=4,
                                        offset=2) == one_brand[2:6]


def test_a_page_of_a_common_words_search_ranks_its_newest_matches(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # past ``RANKED`` matches a page is the best of the newest ones (those stored last);
    # any fewer matches are all ranked, as before
    store = Store(tmp_path / "t.db")
    store.migrate()
    sweep = store.start_sweep(kind="sweep", brand="acme", campaign=None,
                              marketplaces=["bazaar"], keywords=["acme"], max_pages=1)
    titles = ["pulse"] + ["pulse headphones bundle with case and cable"] * 7
    store.save(sweep, [Listing(marketplace="bazaar", listing_id=f"b-{i}",
                               url=f"http://x/{i}", title=title, keyword="acme",
                               render_mode="http") for i, title in enumerate(titles)])
    whole = store.listings_with_verdicts(search="pulse")
    assert whole[0]["listing_id"] == "b-0"  # the shortest title ranks first
    assert store.listings_with_verdicts(search="pulse", limit=3) == whole[:3]
    monkeypatch.setattr(store_listings, "RANKED", 5)
    page = store.listings_with_verdicts(search="pulse", limit=3)
    assert len(page) == 3 and {r["listing_id"] for r in page} <= {f"b-{i}" for i in
                                                                   range(3, 8)}
    assert store.listings_with_verdicts(search="pulse") == whole  # no page: all ranked
