"""The baseline for bench/sweep_http.py: a bare Scrapy spider, no pipelines, that fetches
the same bazaar search pages (follows the same next links) and extracts the same cards.

    scrapy runspider bench/baseline_bazaar.py -a base=URL -a keywords=a,b -a out=FILE
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote_plus

import scrapy


class BaselineBazaar(scrapy.Spider):
    name = "baseline_bazaar"
    custom_settings: ClassVar[dict[str, Any]] = {
        "TELNETCONSOLE_ENABLED": False, "REMOTE_CONTROL_ENABLED": False, "LOG_LEVEL": "ERROR",
        "ROBOTSTXT_OBEY": True, "CONCURRENT_REQUESTS_PER_DOMAIN": 4}

    def __init__(self, base: str, keywords: str, out: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.base, self.keywords, self.out = base, keywords.split(","), out

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for k in self.keywords:
            yield scrapy.Request(f"{self.base}/bazaar/sch?q={quote_plus(k)}")

    def parse(self, response: Any) -> Iterator[Any]:
        for card in response.css("li.s-item"):
            yield {"id": card.attrib["data-listing-id"],
                   "url": response.urljoin(card.css("a.s-item__link::attr(href)").get()),
                   "title": card.css(".s-item__title::text").get(),
                   "price": card.css(".s-item__price::text").get(),
                   "seller": card.css(".s-item__seller-name::text").get()}
        nxt = response.css("a.pagination__next::attr(href)").get()
        if nxt:
            yield response.follow(nxt)

    def closed(self, reason: str) -> None:
        stats = self.crawler.stats.get_stats()
        with open(self.out, "w") as f:
            json.dump({"pages": stats.get("response_received_count", 0),
                       "items": stats.get("item_scraped_count", 0),
                       # finish_time is set after closed() runs; take the same instant
                       "seconds": (datetime.now(UTC) - stats["start_time"]).total_seconds()},
                      f)
