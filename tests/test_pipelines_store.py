"""The store pipeline: batches listings into the real SQLite store and announces each
batch it wrote, as written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from crawler.items import Listing
from crawler.pipelines.store import StorePipeline, listings_saved
from crawler.settings import DEFAULTS
from crawler.store import Store


def listing(lid: str, description: str | None = None, keyword: str = "acme") -> Listing:
    return Listing(marketplace="m", listing_id=lid, url=f"http://m.test/{lid}",
                   title=f"Acme {lid}", keyword=keyword, render_mode="http",
                   description=description)


@pytest.fixture
def db(tmp_path: Path) -> tuple[Path, int]:
    path = tmp_path / "s.db"
    store = Store(path)
    store.migrate()
    return path, store.start_sweep(kind="crawl", brand=None, campaign="c",
                                   marketplaces=["m"], keywords=["acme"], max_pages=1)


def test_without_a_store_it_is_not_configured() -> None:
    with pytest.raises(NotConfigured, match="no store"):
        StorePipeline.from_crawler(get_crawler(settings_dict=DEFAULTS))


def test_batches_are_written_and_announced_as_written(db: tuple[Path, int]) -> None:
    path, sweep_id = db
    crawler = get_crawler(settings_dict=DEFAULTS | {
        "BRANDSWEEP_DB": str(path), "BRANDSWEEP_SWEEP_ID": sweep_id,
        "BRANDSWEEP_CAMPAIGN": "c", "BRANDSWEEP_FLUSH_ITEMS": 2,
        "BRANDSWEEP_FLUSH_SECONDS": 3600})
    batches: list[list[Listing]] = []

    def saved(store: Store, listings: list[Listing], **kwargs: Any) -> None:
        assert isinstance(store, Store)
        batches.append(list(listings))

    crawler.signals.connect(saved, signal=listings_saved, weak=False)
    pipeline = StorePipeline.from_crawler(crawler)
    first = listing("1", "with a description")
    again = listing("1", keyword="acme headphones")  # the same listing, no description
    assert pipeline.process_item(first) is first
    assert pipeline.process_item(again) is again
    assert len(batches) == 1 and pipeline.buffer == []
    # the batch as the store wrote it: the later sighting keeps the earlier description
    assert batches[0][-1].description == "with a description"
    pipeline.process_item(listing("2"))
    assert len(batches) == 1  # still buffered
    pipeline.close_spider()
    assert [[i.listing_id for i in b] for b in batches] == [["1", "1"], ["2"]]
    assert crawler.stats is not None
    stats = crawler.stats.get_stats()
    assert stats["brandsweep/items_saved"] == 3 and stats["brandsweep/listings_new"] == 2
    rows = {r["listing_id"]: r for r in Store(path).listings_for(["acme headphones"])}
    assert set(rows) == {"1"} and rows["1"]["description"] == "with a description"


def test_a_failed_batch_is_counted_in_the_health(db: tuple[Path, int]) -> None:
    import sqlite3

    path, sweep_id = db
    crawler = get_crawler(settings_dict=DEFAULTS | {
        "BRANDSWEEP_DB": str(path), "BRANDSWEEP_SWEEP_ID": sweep_id})
    announced: list[object] = []
    crawler.signals.connect(lambda **kw: announced.append(kw), signal=listings_saved,
                            weak=False)
    pipeline = StorePipeline.from_crawler(crawler)
    broken = listing("1")
    broken.title = None  # type: ignore[assignment]  (the store's NOT NULL refuses it)
    pipeline.process_item(broken)
    with pytest.raises(sqlite3.IntegrityError):
        pipeline.close_spider()
    assert announced == []  # nothing written, nothing to judge
    assert crawler.stats is not None
    assert crawler.stats.get_value("brandsweep/store_errors") == 1
    assert crawler.stats.get_value("brandsweep/store_error")
