"""Writes a marketplace's health into the crawler's stats when its spider closes.

The spider keeps its ``Health`` as it reads pages (``spiders.profile``); the sweep reads
the health from ``crawler.stats`` (``brandsweep/health``), never from the spider, so a
crawler whose stats travel (another process, a stats collector that persists them) can be
reported the same way. The browser-context counts come from the crawler's rotation
(``crawler.downloadhandlers.rotation``).
"""

from __future__ import annotations

from typing import Any, Self

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler.downloadhandlers import rotation

HEALTH = "brandsweep/health"
CONTEXTS_CLOSED = "brandsweep/browser_contexts_closed"
PAGES_REUSED = "brandsweep/browser_pages_reused"


class HealthExtension:
    """On ``spider_closed`` (after the spider's own ``closed``, which decides how its
    keywords ended), copies the spider's health (``as_dict()``) into the stats."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if crawler.stats is None:
            raise NotConfigured("no stats to write the health into")
        ext = cls(crawler)
        # extensions are built after the spider, so this runs after the spider's handler
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_closed(self, spider: Any, reason: str) -> None:
        health = getattr(spider, "health", None)
        stats = self.crawler.stats
        if health is None or stats is None:
            return
        stats.set_value(HEALTH, health.as_dict())
        contexts = rotation.existing(self.crawler)
        stats.set_value(CONTEXTS_CLOSED, contexts.closed if contexts else 0)
        stats.set_value(PAGES_REUSED, contexts.reused if contexts else 0)
