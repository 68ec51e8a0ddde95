"""Scrapy's HTTP/1.1 download handler, with a clock on each page's total time.

``DOWNLOAD_TIMEOUT`` bounds one attempt (Scrapy's handler cancels a download whose body is
still trickling in when it runs out), but a page is tried up to ``RETRY_TIMES + 1`` times,
with backoff between: a page that trickles one byte a second cost about nine timeouts.
``BRANDSWEEP_PAGE_DEADLINE`` bounds all of them together. The clock runs only while a
page is downloading or waiting to be retried, never while it waits in the queue behind
other pages: it is started here, where the download begins, and carried in the
request's meta (``brandsweep_page_spent``), which retries and redirects copy.
"""

from __future__ import annotations

import time
from typing import Any

from scrapy import Request
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.crawler import Crawler
from scrapy.exceptions import DownloadTimeoutError
from scrapy.http import Response
from scrapy.settings import BaseSettings

PAGE_SPENT = "brandsweep_page_spent"  # seconds this page has cost so far, all attempts


def page_deadline(settings: BaseSettings) -> float:
    """``BRANDSWEEP_PAGE_DEADLINE`` seconds, or three ``DOWNLOAD_TIMEOUT`` when it is 0."""
    return settings.getfloat("BRANDSWEEP_PAGE_DEADLINE") or \
        3 * settings.getfloat("DOWNLOAD_TIMEOUT", 180)


def crawl_ends(settings: BaseSettings) -> float | None:
    """When this marketplace's crawl must end (``time.monotonic()``), from
    ``BRANDSWEEP_MARKETPLACE_DEADLINE`` counted from now (the handler starts with the
    crawl), or None without one."""
    deadline = settings.getfloat("BRANDSWEEP_MARKETPLACE_DEADLINE")
    return time.monotonic() + deadline if deadline > 0 else None


def begin_attempt(request: Request, deadline: float, timeout: float,
                  ends: float | None = None) -> float:
    """Start the clock of one download attempt of ``request``: its timeout becomes what is
    left of the page's deadline, or of the marketplace's (``ends``), when that is less, so
    a page in flight when the marketplace's time is up does not hold its close back.
    Returns the start time."""
    left = deadline - float(request.meta.get(PAGE_SPENT, 0.0))
    if ends is not None:
        left = min(left, max(ends - time.monotonic(), 0.5))
    if left <= 0:
        raise DownloadTimeoutError(f"{request.url}: the page took longer than its deadline "
                                   f"of {deadline:g} s (BRANDSWEEP_PAGE_DEADLINE)")
    attempt = min(float(request.meta.get("download_timeout") or timeout), left)
    request.meta["download_timeout"] = attempt
    if request.meta.get("playwright"):
        # scrapy-playwright ignores download_timeout; page.goto takes its own, in ms
        goto: dict[str, Any] = dict(request.meta.get("playwright_page_goto_kwargs") or {})
        goto["timeout"] = min(float(goto.get("timeout") or attempt * 1000), attempt * 1000)
        request.meta["playwright_page_goto_kwargs"] = goto
    return time.monotonic()


def end_attempt(request: Request, started: float) -> None:
    """Stop the clock of the attempt started at ``started``."""
    request.meta[PAGE_SPENT] = float(request.meta.get(PAGE_SPENT, 0.0)) + \
        time.monotonic() - started


class DeadlineHTTPDownloadHandler(HTTP11DownloadHandler):
    """``HTTP11DownloadHandler`` whose attempts together stay within
    ``BRANDSWEEP_PAGE_DEADLINE``."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.deadline = page_deadline(crawler.settings)
        self.timeout = crawler.settings.getfloat("DOWNLOAD_TIMEOUT", 180)
        self.ends = crawl_ends(crawler.settings)

    async def download_request(self, request: Request) -> Response:
        started = begin_attempt(request, self.deadline, self.timeout, self.ends)
        try:
            return await super().download_request(request)
        finally:
            end_attempt(request, started)
