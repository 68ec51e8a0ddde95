"""Incremental sweeps (``spiders.readings``): a repeat sweep completes a listing whose card
is unchanged from what an earlier sweep read on its detail page, and fetches the page
again only for a new listing, a changed title or price, or a reading older than the
profile's ``detail.refresh_days``. Real sweeps of megamart (its seller is only on the
detail page) through the ``brandsweep`` script, and the spider's hooks on a real store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import scrapy
from scrapy.utils.test import get_crawler

from crawler.items import Listing
from crawler.profiles.loading import load_profiles
from crawler.settings import DEFAULTS
from crawler.store import Store
from fixtures.server import FixtureServer
from spiders.profile import ProfileSpider
from tests.cli import rows, run

MEGAMART = Path(__file__).resolve().parent.parent / "spiders" / "marketplaces" / \
    "megamart.yaml"
# what judging and the store see of a listing (not when it was seen)
LISTING = ("marketplace, listing_id, url, title, description, price, price_high, currency, "
           "seller, seller_id, seller_url, seller_location, ships_from, condition, "
           "image_urls, units_sold, moq, keywords")
VERDICTS = "select brand, marketplace, listing_id, version, score, stage, matches from " \
    "evaluations order by 1, 2, 3"
CASES = "select brand, marketplace, listing_id, stage, score, status from cases order by 1, 2, 3"


def sweep(server: FixtureServer, db: Path, *extra: str) -> dict[str, Any]:
    """A sweep of megamart for acme, no evidence or drafts; its megamart health."""
    done = run(server, "sweep", "--brand", "acme", "--marketplace", "megamart", "--db",
               str(db), "--json", "--no-evidence", "--no-draft", *extra)
    assert done.returncode == 0, done.stderr[-3000:]
    health: dict[str, Any] = json.loads(done.stdout)["marketplaces"]["megamart"]
    assert health["status"] == "ok", health
    return health


def listings(db: Path) -> list[tuple[Any, ...]]:
    return rows(db, f"select {LISTING} from listings order by marketplace, listing_id")


@pytest.fixture
def server() -> Iterator[FixtureServer]:
    """A fixture server of this test's own: tests here move its world to later days."""
    with FixtureServer(port=0, hard=False, seed=7) as own:
        yield own


def test_a_repeat_sweep_of_an_unchanged_world_skips_detail_pages_and_judges_alike(
        fixture_server: FixtureServer, tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    first = sweep(fixture_server, db)
    assert first["detail_pages"] == first["listings"] > 50, first
    assert first["detail_skipped"] == 0
    read = rows(db, "select count(*) from detail_readings where marketplace = 'megamart'")
    assert read == [(first["detail_pages"],)]
    before = (listings(db), rows(db, VERDICTS), rows(db, CASES))
    assert any(r[1] for r in rows(db, "select listing_id, seller from listings")), \
        "the detail pages gave no seller"

    second = sweep(fixture_server, db)
    assert second["listings"] == first["listings"]
    assert second["detail_pages"] <= first["detail_pages"] // 10, second
    assert second["detail_skipped"] + second["detail_pages"] == second["listings"]
    # the listings as stored, their verdicts and their cases: as if every page was read
    assert (listings(db), rows(db, VERDICTS), rows(db, CASES)) == before

    done = run(fixture_server, "sweep", "--brand", "acme", "--marketplace", "megamart",
               "--db", str(db), "--no-evidence", "--no-draft")
    assert done.returncode == 0, done.stderr[-3000:]
    assert any(line.startswith("  megamart: detail pages ") and " skipped " in line
               for line in done.stdout.splitlines()), done.stdout


def test_a_changed_price_or_an_old_reading_is_read_again(server: FixtureServer,
                                                          tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    first = sweep(server, db)
    server.app.set_day(1)  # some prices drop, some listings are taken down or relisted
    second = sweep(server, db)
    # the listings whose card price changed since sweep 1, and those new in sweep 2
    changed = {r[0] for r in rows(
        db, "select o2.listing_id from observations o2 left join observations o1 on "
        "o1.sweep_id = 1 and o1.marketplace = o2.marketplace and o1.listing_id = "
        "o2.listing_id where o2.sweep_id = 2 and (o1.listing_id is null or o1.price is not "
        "o2.price or o1.title is not o2.title)")}
    repriced = {r[0] for r in rows(
        db, "select o2.listing_id from observations o2 join observations o1 on o1.sweep_id "
        "= 1 and o1.listing_id = o2.listing_id and o1.marketplace = o2.marketplace where "
        "o2.sweep_id = 2 and o1.price is not o2.price")}
    assert repriced, "day 1 changed no megamart price acme finds"
    assert second["detail_pages"] == len(changed), (second, len(changed))
    reread = {r[0] for r in rows(db, "select listing_id from detail_readings where "
                                     "sweep_id = 2")}
    assert reread == changed
    # each repriced listing: its detail page read for the new price, which is stored
    for lid, price, read_for in rows(
            db, "select l.listing_id, l.price, d.price from listings l join detail_readings "
            "d using (marketplace, listing_id) where l.listing_id in "
            f"({', '.join('?' * len(repriced))})", *sorted(repriced)):
        assert price == read_for, lid
    assert second["detail_skipped"] == second["listings"] - len(changed)
    assert first["detail_pages"] == first["listings"]

    # a reading older than refresh_days (7 by default) is read again, unchanged or not
    old = sorted(r[0] for r in rows(db, "select listing_id from detail_readings"))[:5]
    con = Store(db)
    with con.transaction() as c:
        c.executemany("update detail_readings set fetched_at = '2000-01-01T00:00:00.000000Z'"
                      " where listing_id = ?", [(lid,) for lid in old])
    third = sweep(server, db)
    assert third["detail_pages"] == len(old), third
    assert {r[0] for r in rows(db, "select listing_id from detail_readings where "
                                   "sweep_id = 3")} == set(old)


def test_refresh_days_zero_reads_every_detail_page_every_sweep(
        fixture_server: FixtureServer, tmp_path: Path) -> None:
    folder = tmp_path / "profiles"
    folder.mkdir()
    text = MEGAMART.read_text().replace("  when: missing\n",
                                        "  when: missing\n  refresh_days: 0\n", 1)
    assert "refresh_days: 0" in text
    (folder / "megamart.yaml").write_text(text)
    db = tmp_path / "store.db"
    first = sweep(fixture_server, db, "--marketplaces", str(folder))
    before = (listings(db), rows(db, VERDICTS))
    second = sweep(fixture_server, db, "--marketplaces", str(folder))
    assert second["detail_pages"] == first["detail_pages"] == second["listings"]
    assert second["detail_skipped"] == 0
    assert (listings(db), rows(db, VERDICTS)) == before


# -- the spider's hooks on a real store ----------------------------------------------------

def _spider(db: Path, refresh_days: float = 7) -> ProfileSpider:
    profile = load_profiles()["megamart"]
    detail = profile.detail.model_copy(update={"refresh_days": refresh_days})
    profile = profile.model_copy(update={"detail": detail})
    crawler = get_crawler(ProfileSpider, dict(DEFAULTS) | {
        "BRANDSWEEP_DB": str(db), "BRANDSWEEP_SWEEP_ID": 1})
    spider = ProfileSpider.from_crawler(crawler, profile=profile, keywords=["acme"])
    assert isinstance(spider, ProfileSpider)
    return spider


def _card(lid: str, price: str = "12.50", title: str = "Acme headphones") -> Listing:
    return Listing(marketplace="megamart", listing_id=lid, url=f"http://x/dp/{lid}",
                   title=title, keyword="acme", render_mode="http", price=price,
                   currency="GBP")


def _store(tmp_path: Path) -> Path:
    db = tmp_path / "hooks.db"
    Store(db).migrate()
    return db


def test_the_spider_completes_an_unchanged_card_with_every_value_read(
        tmp_path: Path) -> None:
    db = _store(tmp_path)
    values = {"seller": "Acme Official", "seller_location": "Leeds, GB",
              "description": "Closed-back headphones."}
    spider = _spider(db)
    [request] = spider.card_listing(_card("A1"))
    assert isinstance(request, scrapy.Request)
    [fetched] = spider.detail_read("A1", dict(values))
    spider.closed("finished")  # readings are written at the latest when the crawl closes

    again = _spider(db)
    [skipped] = again.card_listing(_card("A1"))
    assert isinstance(skipped, Listing)
    assert skipped == fetched  # every field a fetch filled in, the same
    assert again.health.detail_skipped == 1 and again.health.detail_pages == 0
    [_] = again.card_listing(_card("A1"))  # found by another keyword: counted once
    assert again.health.detail_skipped == 1
    # a card whose price or title changed: its page is requested again
    assert isinstance(next(iter(again.card_listing(_card("A1", price="9.99")))),
                      scrapy.Request)
    assert isinstance(next(iter(_spider(db).card_listing(_card("A1", title="Acme buds")))),
                      scrapy.Request)
    # refresh_days 0: always requested
    assert isinstance(next(iter(_spider(db, 0).card_listing(_card("A1")))), scrapy.Request)


def test_a_detail_page_lost_records_nothing(tmp_path: Path) -> None:
    db = _store(tmp_path)
    spider = _spider(db)
    [request] = spider.card_listing(_card("B2"))
    assert isinstance(request, scrapy.Request)
    [kept] = spider.detail_lost("B2")
    assert kept.seller is None
    spider.closed("finished")
    assert rows(db, "select count(*) from detail_readings") == [(0,)]
    # so the next sweep requests it again
    assert isinstance(next(iter(_spider(db).card_listing(_card("B2")))), scrapy.Request)


def test_a_listing_found_again_in_the_same_crawl_is_completed_from_what_was_read(
        tmp_path: Path) -> None:
    db = _store(tmp_path)
    values = {"seller": "Acme Official", "seller_location": "Leeds, GB",
              "description": "Closed-back headphones."}
    spider = _spider(db)
    spider.readings.batch = 2  # written to the store after two readings
    for lid in ("C1", "C2", "C3"):
        [request] = spider.card_listing(_card(lid))
        assert isinstance(request, scrapy.Request)
        [fetched] = spider.detail_read(lid, dict(values, seller=f"Seller {lid}"))
        # another keyword finds it: no second request, the same listing
        [again] = spider.card_listing(_card(lid))
        assert isinstance(again, Listing) and again == fetched
    # C1 and C2 are in the store and read back from there; C3 not yet written
    assert rows(db, "select listing_id from detail_readings order by 1") == [("C1",),
                                                                           ("C2",)]
    for lid in ("C1", "C2", "C3"):
        [again] = spider.card_listing(_card(lid, price="13.00"))  # even a new price
        assert isinstance(again, Listing) and again.seller == f"Seller {lid}"
        assert again.seller_location == "Leeds, GB" and again.price == "13.00"
    assert spider.health.detail_pages == 0 and spider.health.detail_skipped == 0
