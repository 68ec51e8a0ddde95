"""A marketplace's politeness across every process of a distributed sweep.

Scrapy's per-domain concurrency and delay hold per process; with many workers a
marketplace would see their sum. In a distributed sweep (``BRANDSWEEP_REDIS_URL`` set)
every download (pages, detail pages, robots.txt, photos, redirects and retries, each
attempt on its own) first takes a slot of the marketplace's shared limit in Redis
(``crawler.distributed.limiter``: at most the profile's ``concurrency`` in flight, starts
``delay`` seconds apart) and gives it back when the response or the error comes. It sits
last before the download handler, so a retry's back-off wait never holds a slot.

A slot is held for ``BRANDSWEEP_LIMIT_HOLD`` seconds (default 15; a worker's is its
lease) and renewed every third of that while its download runs, so a long download keeps
it and a killed worker's slots come back by themselves soon after.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any, Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from crawler.distributed.limiter import Limiter, Slot
from crawler.exceptions import RedisUnavailable

DEFAULT_HOLD = 15.0

SLOT = "brandsweep_slot"  # meta: [marketplace, token, granted ms] of the slot held


class GlobalLimitMiddleware:
    """Holds a shared slot of the marketplace for each download."""

    def __init__(self, crawler: Crawler, url: str, marketplace: str, concurrency: int,
                 delay: float, hold: float) -> None:
        self.crawler = crawler
        self.url = url
        self.marketplace = marketplace
        self.concurrency = concurrency
        self.delay = delay
        self.hold = hold
        self.holder = f"{socket.gethostname()}"
        self._limiter: Limiter | None = None
        self._held: set[str] = set()  # tokens of the slots this crawler holds now
        self._renewing: asyncio.Task[None] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        s = crawler.settings
        url = s.get("BRANDSWEEP_REDIS_URL")
        if not url:
            raise NotConfigured("not a distributed sweep")
        hold = s.getfloat("BRANDSWEEP_LIMIT_HOLD") or DEFAULT_HOLD
        return cls(crawler, url, s["BRANDSWEEP_MARKETPLACE"],
                   s.getint("BRANDSWEEP_CONCURRENCY", 1),
                   s.getfloat("BRANDSWEEP_DELAY", 0.0), hold)

    async def _limits(self) -> Limiter:
        if self._limiter is None:
            from crawler.distributed.connection import connect_async

            # made in the crawl's own event loop, on first use
            self._limiter = Limiter(await connect_async(self.url), hold_seconds=self.hold)
            self._renewing = asyncio.ensure_future(self._renew())
        return self._limiter

    async def _renew(self) -> None:
        """Every third of the hold, hold every slot still in use for another hold."""
        while True:
            await asyncio.sleep(self.hold / 3)
            if self._held and self._limiter is not None:
                with contextlib.suppress(RedisUnavailable):  # the next acquire says so
                    await self._limiter.renew(self.marketplace, list(self._held))

    async def process_request(self, request: Request) -> None:
        limiter = await self._limits()
        slot = await limiter.acquire(self.marketplace, self.concurrency, self.delay,
                                     self.holder)
        request.meta[SLOT] = [slot.marketplace, slot.token, slot.granted_ms]
        self._held.add(slot.token)

    async def _release(self, request: Request) -> None:
        held = request.meta.pop(SLOT, None)
        if held and self._limiter is not None:
            self._held.discard(held[1])
            await self._limiter.release(Slot(*held))

    async def process_response(self, request: Request, response: Response) -> Response:
        await self._release(request)
        return response

    async def process_exception(self, request: Request, exception: Exception) -> Any:
        await self._release(request)
        return None
