"""Retry with backoff that honours ``Retry-After``.

Scrapy's own ``RetryMiddleware`` re-queues a failed request at once; against a marketplace
that rate-limits, that earns more 429s. This one waits first: ``Retry-After`` when the
server sends it (capped), otherwise exponential backoff with jitter. It never retries a
page past ``BRANDSWEEP_PAGE_DEADLINE``: the page's attempts and the waits between them
together stay within it (the download handlers in ``crawler.downloadhandlers`` keep the
clock and shorten the last attempt's timeout to what is left).
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response
from scrapy.settings import BaseSettings
from scrapy.utils.response import response_status_message

from crawler.downloadhandlers.http import PAGE_SPENT, page_deadline

# an attempt given less time than this is not worth making
MIN_ATTEMPT = 1.0


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
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response
        await self._sleep(retry, wait)
        return retry

    async def process_exception(self, request: Request, exception: Exception  # type: ignore[override]
                                ) -> Request | Response | None:
        if request.meta.get("dont_retry") or not isinstance(exception,
                                                            self.exceptions_to_retry):
            return None
        wait = self.wait(request, None)
        if not self._in_time(request, wait):
            return None
        retry = self._retry(request, exception)
        if retry is not None:
            await self._sleep(retry, wait)
        return retry

    def _in_time(self, request: Request, wait: float) -> bool:
        """Whether another attempt after ``wait`` seconds still fits the page deadline."""
        spent = float(request.meta.get(PAGE_SPENT, 0.0))
        if spent + wait + min(MIN_ATTEMPT, self.deadline / 3) <= self.deadline:
            return True
        stats = getattr(getattr(self, "crawler", None), "stats", None)
        if stats is not None:
            stats.inc_value("brandsweep/page_deadline_reached")
        return False

    async def _sleep(self, retry: Request, wait: float) -> None:
        await asyncio.sleep(wait)
        retry.meta[PAGE_SPENT] = float(retry.meta.get(PAGE_SPENT, 0.0)) + wait

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
