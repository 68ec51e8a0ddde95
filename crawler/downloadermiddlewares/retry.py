"""Retry with backoff that honours ``Retry-After``.

Scrapy's own ``RetryMiddleware`` re-queues a failed request at once; against a marketplace
that rate-limits, that earns more 429s. This one waits first: ``Retry-After`` when the
server sends it (capped), otherwise exponential backoff with jitter. It never retries a
page past ``BRANDSWEEP_PAGE_DEADLINE``: the page's attempts and the waits between them
together stay within it (the download handlers in ``crawler.downloadhandlers`` keep the
clock and shorten the last attempt's timeout to what is left).

The retry is built by Scrapy's public ``get_retry_request`` and handed back at once, the
time it may go stamped in its meta (``brandsweep_retry_at``, seconds since the epoch:
plain data, so a retry kept in ``JOBDIR`` or a shared queue still waits). The wait is
served when the retry comes back to the downloader (``process_request``). Scrapy 2.19 has
no ``Retry-After`` handling of its own and no per-request delay: a slot delay would slow
every page of the host, and re-scheduling the retry later would need the spider held
open and the first attempt failed through its errback.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware, get_retry_request
from scrapy.http import Response
from scrapy.settings import BaseSettings
from scrapy.utils.response import response_status_message

from crawler.downloadermiddlewares.contexts import PAGE_METHODS
from crawler.downloadhandlers.http import PAGE_SPENT, page_deadline

# an attempt given less time than this is not worth making
MIN_ATTEMPT = 1.0
# when a retry may be downloaded, in seconds since the epoch
RETRY_AT = "brandsweep_retry_at"


class BackoffRetryMiddleware(RetryMiddleware):
    """Drop-in for ``RetryMiddleware``: same settings, plus ``BRANDSWEEP_RETRY_BACKOFF``
    (first wait, seconds), ``BRANDSWEEP_RETRY_BACKOFF_MAX`` (longest wait) and
    ``BRANDSWEEP_PAGE_DEADLINE`` (a page's total time, retries included)."""

    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        self.backoff = settings.getfloat("BRANDSWEEP_RETRY_BACKOFF", 0.5)
        self.backoff_max = settings.getfloat("BRANDSWEEP_RETRY_BACKOFF_MAX", 60.0)
        self.deadline = page_deadline(settings)

    async def process_response(self, request: Request, response: Response  # type: ignore[override]
                               ) -> Request | Response:
        if request.meta.get("dont_retry") or response.status not in self.retry_http_codes:
            return response
        wait = self.wait(request, response)
        if not self._in_time(request, wait):
            return response
        retry = self._retry_request(request, response_status_message(response.status))
        if retry is None:
            return response
        return self._after(retry, wait)

    async def process_exception(self, request: Request, exception: Exception  # type: ignore[override]
                                ) -> Request | Response | None:
        if request.meta.get("dont_retry") or not isinstance(exception,
                                                            self.exceptions_to_retry):
            return None
        wait = self.wait(request, None)
        if not self._in_time(request, wait):
            return None
        retry = self._retry_request(request, exception)
        return self._after(retry, wait) if retry is not None else None

    async def process_request(self, request: Request) -> None:
        """A retry waits here, once, for the time its wait ends."""
        at = request.meta.pop(RETRY_AT, None)
        if at is not None:
            left = float(at) - time.time()
            if left > 0:
                await asyncio.sleep(left)

    def _retry_request(self, request: Request, reason: str | Exception) -> Request | None:
        """Scrapy's retry of ``request`` (``None`` once its retries are spent), with the
        request's own ``max_retry_times``, ``priority_adjust`` and ``give_up_log_level``
        as Scrapy's ``RetryMiddleware`` reads them."""
        spider = self.crawler.spider
        assert spider is not None  # a retry is only ever asked for during a crawl
        return get_retry_request(
            request, spider=spider, reason=reason,
            max_retry_times=request.meta.get("max_retry_times", self.max_retry_times),
            priority_adjust=request.meta.get("priority_adjust", self.priority_adjust),
            give_up_log_level=request.meta.get("give_up_log_level", self.give_up_log_level))

    def _in_time(self, request: Request, wait: float) -> bool:
        """Whether another attempt after ``wait`` seconds still fits the page deadline."""
        spent = float(request.meta.get(PAGE_SPENT, 0.0))
        if spent + wait + min(MIN_ATTEMPT, self.deadline / 3) <= self.deadline:
            return True
        stats = getattr(getattr(self, "crawler", None), "stats", None)
        if stats is not None:
            stats.inc_value("brandsweep/page_deadline_reached")
        return False

    def _after(self, retry: Request, wait: float) -> Request:
        """``retry``, to be downloaded ``wait`` seconds from now; the wait counts towards
        the page deadline."""
        retry.meta[RETRY_AT] = time.time() + wait
        # what the download made live (the failed attempt's page, page methods resolved
        # from their names) is not data; the retry gets its own when it is downloaded
        # (crawler.downloadermiddlewares.contexts)
        retry.meta.pop("playwright_page", None)
        if retry.meta.get(PAGE_METHODS):
            retry.meta.pop("playwright_page_methods", None)
        retry.meta[PAGE_SPENT] = float(retry.meta.get(PAGE_SPENT, 0.0)) + wait
        return retry

    def wait(self, request: Request, response: Response | None) -> float:
        """Seconds to wait before retrying ``request``."""
        if response is not None:
            header = response.headers.get(b"Retry-After")
            if header:
                seconds = _retry_after(header.decode("latin-1"))
                if seconds is not None:
                    return min(max(seconds, 0.0), self.backoff_max)
        attempt = int(request.meta.get("retry_times", 0))
        return float(min(self.backoff * 2 ** attempt * random.uniform(0.5, 1.5),  # noqa: S311
                   self.backoff_max))


def _retry_after(value: str) -> float | None:
    """``Retry-After`` is either delta-seconds or an HTTP date."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return (when - datetime.now(UTC)).total_seconds()
