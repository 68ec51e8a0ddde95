"""Writes each listing to the SQLite store, in batches, one transaction per batch."""

from __future__ import annotations

import time
from typing import Any, Self

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler.items import Listing
from crawler.store import Store


class StorePipeline:
    """Buffers listings and flushes them every ``BRANDSWEEP_FLUSH_ITEMS`` items or
    ``BRANDSWEEP_FLUSH_SECONDS`` seconds, and when the spider closes."""

    def __init__(self, db_path: str, sweep_id: int, campaign: str | None, flush_items: int,
                 flush_seconds: float) -> None:
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
        pipeline = cls(s["BRANDSWEEP_DB"], s.getint("BRANDSWEEP_SWEEP_ID"),
                       s.get("BRANDSWEEP_CAMPAIGN"), s.getint("BRANDSWEEP_FLUSH_ITEMS"),
                       s.getfloat("BRANDSWEEP_FLUSH_SECONDS"))
        pipeline.crawler = crawler
        return pipeline

    crawler: Crawler

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
            try:
                self.new += self.store.save(self.sweep_id, self.buffer, self.campaign)
                self.saved += len(self.buffer)
            except Exception as exc:
                # the batch rolled back as a whole; say so in the sweep's health
                if stats is not None:
                    stats.inc_value("brandsweep/store_errors")
                    stats.set_value("brandsweep/store_error", f"{type(exc).__name__}: {exc}")
                raise
            finally:
                self.buffer = []
        self.last_flush = time.monotonic()
        if stats is not None:
            stats.set_value("brandsweep/listings_new", self.new)
            stats.set_value("brandsweep/items_saved", self.saved)

    def close_spider(self) -> None:
        self.flush()
