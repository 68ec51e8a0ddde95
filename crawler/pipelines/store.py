"""Writes each listing to the SQLite store, in batches, one transaction per batch; each
batch written is announced (``listings_saved``) so ``crawler.pipelines.judge`` judges it
as soon as it is stored, from what was written rather than by reading it back."""

from __future__ import annotations

import time
from typing import Any, Self

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler.items import Listing
from crawler.store import Store

# sent after each batch is committed, with ``store`` (the Store) and ``listings`` (the
# batch as written: the latest sighting of a listing last, carrying the description an
# earlier sighting in the batch had when it has none)
listings_saved = object()


class StorePipeline:
    """Buffers listings and flushes them every ``BRANDSWEEP_FLUSH_ITEMS`` items or
    ``BRANDSWEEP_FLUSH_SECONDS`` seconds, and when the spider closes."""

    def __init__(self, crawler: Crawler, db_path: str, sweep_id: int, campaign: str | None,
                 flush_items: int, flush_seconds: float) -> None:
        self.crawler = crawler
        self.store = Store(db_path)
        self.sweep_id = sweep_id
        self.campaign = campaign
        self.flush_items = flush_items
        self.flush_seconds = flush_seconds
        self.buffer: list[Listing] = []
        self.last_flush = time.monotonic()
        self.new = 0
        self.saved = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        s = crawler.settings
        if not s.get("BRANDSWEEP_DB") or not s.getint("BRANDSWEEP_SWEEP_ID"):
            raise NotConfigured("no store: BRANDSWEEP_DB and BRANDSWEEP_SWEEP_ID unset")
        return cls(crawler, s["BRANDSWEEP_DB"], s.getint("BRANDSWEEP_SWEEP_ID"),
                   s.get("BRANDSWEEP_CAMPAIGN"), s.getint("BRANDSWEEP_FLUSH_ITEMS"),
                   s.getfloat("BRANDSWEEP_FLUSH_SECONDS"))

    def process_item(self, item: Any) -> Any:
        if isinstance(item, Listing):
            self.buffer.append(item)
            if len(self.buffer) >= self.flush_items or \
                    time.monotonic() - self.last_flush >= self.flush_seconds:
                self.flush()
        return item

    def flush(self) -> None:
        stats = self.crawler.stats
        if self.buffer:
            batch, self.buffer = self.buffer, []
            try:
                # Store.save fills in, on the batch's own items, what it merged among them
                self.new += self.store.save(self.sweep_id, batch, self.campaign)
                self.saved += len(batch)
            except Exception as exc:
                # the batch rolled back as a whole; say so in the sweep's health
                if stats is not None:
                    stats.inc_value("brandsweep/store_errors")
                    stats.set_value("brandsweep/store_error", f"{type(exc).__name__}: {exc}")
                raise
            self.crawler.signals.send_catch_log(listings_saved, store=self.store,
                                                listings=batch)
        self.last_flush = time.monotonic()
        if stats is not None:
            stats.set_value("brandsweep/listings_new", self.new)
            stats.set_value("brandsweep/items_saved", self.saved)

    def close_spider(self) -> None:
        self.flush()
