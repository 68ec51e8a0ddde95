"""Gives each browser request its browser context at the moment it is downloaded.

The crawler's ``ContextRotation`` (``crawler.downloadhandlers.rotation``) moves pages to a
fresh context every N pages so Chromium gives memory back; naming the context here, not
when the request was made, means a request that waited in the queue or is being retried
never revives a retired context.
"""

from __future__ import annotations

from typing import Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler.downloadhandlers import rotation


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
        # never the page a retried request carried from its first attempt, which may be
        # closed or in another context (the download handler may hand it an idle one)
        request.meta.pop("playwright_page", None)
