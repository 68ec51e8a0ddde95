"""Retry with backoff that honours ``Retry-After``.

Scrapy's own ``RetryMiddleware`` re-queues a failed request at once; against a marketplace
that rate-limits, that earns more 429s. This one waits first: ``Retry-After`` when the
server sends it (capped), otherwise exponential backoff with jitter.
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


class BackoffRetryMiddleware(RetryMiddleware):
    """Drop-in for ``RetryMiddleware``: same settings, plus ``BRANDSWEEP_RETRY_BACKOFF``
    (first wait, seconds) and ``BRANDSWEEP_RETRY_BACKOFF_MAX`` (longest wait)."""

    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        self.backoff = settings.getfloat("BRANDSWEEP_RETRY_BACKOFF", 0.5)
        self.backoff_max = settings.getfloat("BRANDSWEEP_RETRY_BACKOFF_MAX", 60.0)

    async def process_response(self, request: Request, response: Response  # type: ignore[override]
                               ) -> Request | Response:
        if request.meta.get("dont_retry") or response.status not in self.retry_http_codes:
            return response
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response
        await asyncio.sleep(self.wait(request, response))
        return retry

    async def process_exception(self, request: Request, exception: Exception  # type: ignore[override]
                                ) -> Request | Response | None:
        if request.meta.get("dont_retry") or not isinstance(exception,
                                                            self.exceptions_to_retry):
            return None
        retry = self._retry(request, exception)
        if retry is not None:
            await asyncio.sleep(self.wait(request, None))
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
