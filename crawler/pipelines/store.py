"""Writes each listing to the SQLite store, in batches, one transaction per batch, and
judges each batch with the brand's rule set as soon as it is stored."""

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
                 flush_seconds: float, ruleset: Any = None) -> None:
        self.store = Store(db_path)
        self.ruleset = ruleset
        self.sweep_id = sweep_id
        self.campaign = campaign
        self.flush_items = flush_items
        self.flush_seconds = flush_seconds
        self.buffer: list[Listing] = []
        self.last_flush = time.monotonic()
        self.new = 0
        self.saved = 0
        self.evaluated = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        s = crawler.settings
        if not s.get("BRANDSWEEP_DB") or not s.getint("BRANDSWEEP_SWEEP_ID"):
            raise NotConfigured("no store: BRANDSWEEP_DB and BRANDSWEEP_SWEEP_ID unset")
        pipeline = cls(s["BRANDSWEEP_DB"], s.getint("BRANDSWEEP_SWEEP_ID"),
                       s.get("BRANDSWEEP_CAMPAIGN"), s.getint("BRANDSWEEP_FLUSH_ITEMS"),
                       s.getfloat("BRANDSWEEP_FLUSH_SECONDS"), s.get("BRANDSWEEP_RULESET"))
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
                if self.ruleset is not None:
                    self.evaluated += self._evaluate(self.buffer)
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
            stats.set_value("brandsweep/evaluated", self.evaluated)

    def _evaluate(self, items: list[Listing]) -> int:
        """Judge the stored rows of these listings (the store merges what earlier pages and
        sweeps saw) and keep the verdicts; a crash between the two writes is repaired by
        the next sweep or ``rules apply``, which judge every listing again."""
        from crawler.rules.backtest import row_of

        rs = self.ruleset
        keys = list(dict.fromkeys((i.marketplace, i.listing_id) for i in items))
        rows = [row_of(row, rs.evaluate(row)) for i in range(0, len(keys), 400)
                for row in self.store.listings_for([], keys=keys[i:i + 400],
                                                   brand=rs.brand_key)]
        return self.store.save_evaluations(rs.brand_key, rows, self.sweep_id)

    def close_spider(self) -> None:
        self.flush()
