"""Gives each browser request its browser context and its page methods at the moment it
is downloaded.

The crawler's ``ContextRotation`` (``crawler.downloadhandlers.rotation``) moves pages to a
fresh context every N pages so Chromium gives memory back; naming the context here, not
when the request was made, means a request that waited in the queue or is being retried
never revives a retired context.

Page methods that run brandsweep's own code are named in ``meta["brandsweep_page_methods"]``
(``[[spider method name, *plain arguments], ...]``) and become scrapy-playwright's
``playwright_page_methods`` here, as Scrapy turns callback names back into methods: a
queued request carries names and values only, never a function.
"""

from __future__ import annotations

from typing import Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler.downloadhandlers import rotation

PAGE_METHODS = "brandsweep_page_methods"


class BrowserContextMiddleware:
    """Sets ``meta["playwright_context"]`` on requests with ``meta["playwright"]``."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.get("PLAYWRIGHT_LAUNCH_OPTIONS"):
            raise NotConfigured("no browser in this crawl")
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        if not request.meta.get("playwright"):
            return
        request.meta["playwright_context"] = rotation.for_crawler(self.crawler).next_name()
        named = request.meta.get(PAGE_METHODS)
        if named:
            from scrapy_playwright.page import PageMethod

            spider = self.crawler.spider
            request.meta["playwright_page_methods"] = [
                PageMethod(getattr(spider, name), *args) for name, *args in named]
        # never the page a retried request carried from its first attempt, which may be
        # closed or in another context (the download handler may hand it an idle one)
        request.meta.pop("playwright_page", None)
