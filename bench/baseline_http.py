"""The baseline for ``bench/sweep_http.py --scale N``: bare Scrapy spiders, no pipelines,
one per marketplace (bazaar, megamart, tradehub), run side by side in one process as a
brandsweep sweep runs its crawlers. Each fetches what the brandsweep profile fetches:
the same search pages (bazaar's next links, megamart's "load more" fragments, tradehub's
``beginPage`` up to its page count) and megamart's detail pages (its cards have no
seller), once per listing; and reads the same card fields.

    python bench/baseline_http.py --base URL --keyword acme [--keyword ...] --out FILE

FILE gets, per marketplace, the pages fetched (robots.txt not counted), the listings
seen and the seconds from the crawler's start to its close.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote_plus

import scrapy
from scrapy.crawler import CrawlerProcess

SETTINGS: dict[str, Any] = {
    "TELNETCONSOLE_ENABLED": False, "REMOTE_CONTROL_ENABLED": False, "LOG_LEVEL": "ERROR",
    # as brandsweep's profiles: robots.txt obeyed, 4 requests at a time per marketplace
    "ROBOTSTXT_OBEY": True, "CONCURRENT_REQUESTS_PER_DOMAIN": 4,
}


class _Baseline(scrapy.Spider):
    search: ClassVar[str]  # the search URL after the base, "{q}" the keyword

    def __init__(self, base: str, keywords: list[str], out: dict[str, Any],
                 **kw: Any) -> None:
        super().__init__(**kw)
        self.base, self.keywords, self.out = base, keywords, out
        self.seen: set[str] = set()

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for k in self.keywords:
            yield scrapy.Request(self.base + self.search.format(q=quote_plus(k)),
                                 cb_kwargs={"keyword": k, "page": 1})

    def closed(self, reason: str) -> None:
        stats = self.crawler.stats.get_stats()  # type: ignore[union-attr]
        self.out[self.name] = {
            "pages": stats.get("response_received_count", 0) - 1,  # minus robots.txt
            "listings": len(self.seen), "reason": reason,
            # finish_time is set after closed() runs; take the same instant
            "seconds": (datetime.now(UTC) - stats["start_time"]).total_seconds()}


class Bazaar(_Baseline):
    name = "bazaar"
    search = "/bazaar/sch?q={q}"

    def parse(self, response: Any, keyword: str, page: int) -> Iterator[Any]:
        for card in response.css("li.s-item"):
            self.seen.add(card.attrib["data-listing-id"])
            yield {"id": card.attrib["data-listing-id"],
                   "url": response.urljoin(card.css("a.s-item__link::attr(href)").get()),
                   "title": card.css(".s-item__title::text").get(),
                   "price": card.css(".s-item__price::text").get(),
                   "seller": card.css(".s-item__seller-name::text").get()}
        nxt = response.css("a.pagination__next::attr(href)").get()
        if nxt:
            yield response.follow(nxt, cb_kwargs={"keyword": keyword, "page": page + 1})


class Megamart(_Baseline):
    name = "megamart"
    search = "/megamart/s?k={q}"

    def parse(self, response: Any, keyword: str, page: int) -> Iterator[Any]:
        for card in response.css('[data-component-type="s-search-result"]'):
            lid = card.attrib["data-asin"]
            item = {"id": lid, "url": response.urljoin(card.css("h2 a::attr(href)").get()),
                    "title": card.css("h2 a span::text").get(),
                    "price": card.css(".a-price .a-offscreen::text").get()}
            if lid not in self.seen:  # the seller is on the detail page only
                self.seen.add(lid)
                yield scrapy.Request(item["url"], callback=self.parse_detail,
                                     cb_kwargs={"item": item})
        nxt = response.css("#load-more::attr(data-next)").get()
        if nxt:
            yield response.follow(nxt, cb_kwargs={"keyword": keyword, "page": page + 1})

    def parse_detail(self, response: Any, item: dict[str, Any]) -> Iterator[Any]:
        ld = json.loads(response.css('script[type="application/ld+json"]::text').get("{}"))
        yield {**item, "seller": ld.get("offers", {}).get("seller", {}).get("name")}


class Tradehub(_Baseline):
    name = "tradehub"
    search = "/tradehub/search?keywords={q}&beginPage=1"

    def parse(self, response: Any, keyword: str, page: int) -> Iterator[Any]:
        for card in response.css(".offer-card"):
            self.seen.add(card.attrib["data-offer-id"])
            yield {"id": card.attrib["data-offer-id"],
                   "url": response.urljoin(card.css("a.offer-title::attr(href)").get()),
                   "title": card.css("a.offer-title::text").get(),
                   "price": card.css(".offer-price::text").get(),
                   "seller": card.css(".company-name::text").get()}
        pages = int(response.css(".pager::attr(data-total-pages)").get("0"))
        if page < pages:
            yield scrapy.Request(f"{self.base}/tradehub/search?keywords="
                                 f"{quote_plus(keyword)}&beginPage={page + 1}",
                                 cb_kwargs={"keyword": keyword, "page": page + 1})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--keyword", dest="keywords", action="append", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    out: dict[str, Any] = {}
    process = CrawlerProcess(SETTINGS, install_root_handler=False)
    for spider in (Bazaar, Megamart, Tradehub):
        process.crawl(spider, base=args.base.rstrip("/"), keywords=args.keywords, out=out)
    process.start()
    with open(args.out, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
