"""The baseline for bench/sweep_browser.py: scrapy-playwright with its default settings.

The spider is the infinite-scroll pattern from scrapy-playwright's documentation (wait
for the cards, scroll, wait), looped as the common recipe does it: scroll, wait a second,
stop when the page stops growing. Only the Chromium binary and its closed-network flags
are set, because they have to be on this machine. The binary is the one brandsweep uses
(``crawler.browser.chromium.find_chromium``): normally the Chromium headless shell, which is also
what Playwright launches by default for a headless browser.

    scrapy runspider bench/baseline_shopfront.py -a base=URL -a keywords=a,b -a out=FILE
        [-a scroll=0]   # 0: first screen of results only
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote_plus

import scrapy
from scrapy_playwright.page import PageMethod

from crawler.browser.chromium import LAUNCH_ARGS, find_chromium

HANDLER = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"


async def scroll_until_stable(page: Any) -> None:
    height = 0
    while True:
        await page.evaluate("window.scrollBy(0, document.body.scrollHeight)")
        await page.wait_for_timeout(1000)
        new_height = await page.evaluate("document.body.scrollHeight")
        if new_height == height:
            return
        height = new_height


class BaselineShopfront(scrapy.Spider):
    name = "baseline_shopfront"
    custom_settings: ClassVar[dict[str, Any]] = {
        "DOWNLOAD_HANDLERS": {"http": HANDLER, "https": HANDLER},
        "TELNETCONSOLE_ENABLED": False, "REMOTE_CONTROL_ENABLED": False, "LOG_LEVEL": "ERROR",
        "PLAYWRIGHT_LAUNCH_OPTIONS": {"executable_path": find_chromium(),
                                      "args": list(LAUNCH_ARGS)},
    }

    def __init__(self, base: str, keywords: str, out: str, scroll: str = "1",
                 **kw: Any) -> None:
        super().__init__(**kw)
        self.base, self.keywords, self.out = base, keywords.split(","), out
        self.scroll = scroll == "1"

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for k in self.keywords:
            methods = [PageMethod("wait_for_selector", "article.product-tile")]
            if self.scroll:
                methods.append(PageMethod(scroll_until_stable))
            yield scrapy.Request(f"{self.base}/shopfront/search?q={quote_plus(k)}",
                                 meta={"playwright": True,
                                       "playwright_page_methods": methods},
                                 dont_filter=True)

    def parse(self, response: Any) -> Iterator[Any]:
        for card in response.css("article.product-tile"):
            yield {"id": card.attrib["data-product-id"],
                   "title": card.css(".product-tile__name::text").get(),
                   "price": card.css(".product-tile__price::text").get(),
                   "seller": card.css(".seller-name::text").get()}

    def closed(self, reason: str) -> None:
        stats = self.crawler.stats.get_stats()
        with open(self.out, "w") as f:
            json.dump({"pages": stats.get("response_received_count", 0),
                       "items": stats.get("item_scraped_count", 0),
                       "seconds": (datetime.now(UTC) - stats["start_time"]).total_seconds()},
                      f)
