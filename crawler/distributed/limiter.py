"""Global politeness: per marketplace, at most ``concurrency`` requests in flight across
all workers, and at least ``delay`` seconds between two request starts.

Scrapy's own ``CONCURRENT_REQUESTS_PER_DOMAIN`` and ``DOWNLOAD_DELAY`` hold per process;
with several workers a marketplace would see their sum. Here the slots live in Redis:

==========================================  ====  ========================================
``brandsweep:limit:<marketplace>:holders``  zset  slot token -> expiry (ms, Redis clock)
``brandsweep:limit:<marketplace>:next``     str   earliest start of the next request (ms)
==========================================  ====  ========================================

Taking a slot is one Lua script: drop holders whose expiry passed (a killed worker's slot
comes back after ``hold_seconds``), refuse while ``concurrency`` slots are held or the next
start is not due yet, else hold a slot and move the next start ``delay`` on. Waiting is
polling (every ``poll_seconds`` at most, sooner when the next start is due sooner), so
waiters are not served in arrival order. ``hold_seconds`` must exceed the longest a
request can take (the download timeout), or a slow request's slot is given to another.
"""

from __future__ import annotations

import asyncio
import random
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import cast

import redis.asyncio

from crawler.distributed.connection import unavailable_as_error, url_of

PREFIX = "brandsweep:"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")

# ARGV: prefix, marketplace, token, concurrency, delay ms, hold ms.
# Returns {1, now} when the slot is taken, {0, ms worth waiting} when not.
_ACQUIRE = r"""
local P, m, token = ARGV[1], ARGV[2], ARGV[3]
local concurrency, delay, hold = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local holders = P .. 'limit:' .. m .. ':holders'
local nextkey = P .. 'limit:' .. m .. ':next'
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', holders, '-inf', now)
if redis.call('ZCARD', holders) >= concurrency then
  local first = redis.call('ZRANGE', holders, 0, 0, 'WITHSCORES')
  return {0, tonumber(first[2]) - now}
end
local due = tonumber(redis.call('GET', nextkey) or '0')
if now < due then return {0, due - now} end
redis.call('ZADD', holders, now + hold, token)
if redis.call('PTTL', holders) < hold then redis.call('PEXPIRE', holders, hold) end
if delay > 0 then redis.call('SET', nextkey, now + delay, 'PX', delay) end
return {1, now}
"""


# ARGV: prefix, marketplace, hold ms, tokens...: held slots' expiry moved to now + hold
_RENEW = r"""
local holders = ARGV[1] .. 'limit:' .. ARGV[2] .. ':holders'
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local hold = tonumber(ARGV[3])
local n = 0
for i = 4, #ARGV do n = n + redis.call('ZADD', holders, 'XX', 'CH', now + hold, ARGV[i]) end
if redis.call('PTTL', holders) < hold then redis.call('PEXPIRE', holders, hold) end
return n
"""


@dataclass(frozen=True)
class Slot:
    """One request's right to start: hand it back with ``Limiter.release``."""

    marketplace: str
    token: str
    granted_ms: int  # when it was granted, Redis clock (ms since the epoch)


class Limiter:
    """Shared per-marketplace concurrency and delay, for asyncio code (Scrapy's asyncio
    reactor). ``client`` is a ``redis.asyncio.Redis`` (see ``connection.connect_async``)."""

    def __init__(self, client: redis.asyncio.Redis, prefix: str = PREFIX,
                 hold_seconds: float = 300.0, poll_seconds: float = 0.05) -> None:
        if hold_seconds <= 0 or poll_seconds <= 0:
            raise ValueError("hold_seconds and poll_seconds must be positive")
        self.client = client
        self.prefix = prefix
        self.hold_seconds = hold_seconds
        self.poll_seconds = poll_seconds
        self._url = url_of(client)
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)

    def _holders(self, marketplace: str) -> str:
        return f"{self.prefix}limit:{marketplace}:holders"

    async def acquire(self, marketplace: str, concurrency: int, delay: float, holder: str,
                      timeout: float | None = None,
                      hold_seconds: float | None = None) -> Slot:
        """Wait for a slot of ``marketplace`` (at most ``concurrency`` held, starts at least
        ``delay`` seconds apart), held by ``holder`` (a worker id, for ``redis-cli``
        readers) until released or ``hold_seconds`` pass. ``TimeoutError`` after
        ``timeout`` seconds without one (``None``: wait for ever)."""
        if not _NAME.fullmatch(marketplace):
            raise ValueError(f"marketplace name {marketplace!r} cannot key a limit")
        if concurrency < 1:
            raise ValueError(f"concurrency for {marketplace} must be at least 1")
        if delay < 0:
            raise ValueError(f"delay for {marketplace} cannot be negative")
        token = f"{holder}/{uuid.uuid4().hex}"
        hold_ms = max(1, round((hold_seconds or self.hold_seconds) * 1000))
        args: list[str | int] = [self.prefix, marketplace, token, concurrency,
                                 round(delay * 1000), hold_ms]
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            with unavailable_as_error(self._url):
                granted, value = cast(list[int], await self._acquire(args=args))
            if granted:
                return Slot(marketplace, token, int(value))
            wait = min(self.poll_seconds, max(int(value), 1) / 1000)
            if deadline is not None:
                left = deadline - loop.time()
                if left <= 0:
                    raise TimeoutError(f"no request slot for {marketplace} within {timeout} s "
                                       f"(concurrency {concurrency}, delay {delay} s)")
                wait = min(wait, left)
            # jitter, so waiters in many processes do not poll in lockstep
            await asyncio.sleep(wait * random.uniform(0.5, 1.0))  # noqa: S311

    async def release(self, slot: Slot) -> bool:
        """Give ``slot`` back; False when it had already expired (or was never held)."""
        with unavailable_as_error(self._url):
            removed = await self.client.zrem(self._holders(slot.marketplace), slot.token)
        return bool(removed)

    async def renew(self, marketplace: str, tokens: list[str],
                    hold_seconds: float | None = None) -> int:
        """Hold these slots of ``marketplace`` for ``hold_seconds`` (default: the limiter's)
        from now: a long download keeps its slot, a dead holder's runs out soon after.
        Returns how many were still held."""
        if not tokens:
            return 0
        hold_ms = max(1, round((hold_seconds or self.hold_seconds) * 1000))
        with unavailable_as_error(self._url):
            n = await self._renew(args=[self.prefix, marketplace, hold_ms, *tokens])
        return int(n)

    async def in_flight(self, marketplace: str) -> int:
        """Slots of ``marketplace`` held now (expired ones not counted)."""
        with unavailable_as_error(self._url):
            now_s, now_us = cast(tuple[int, int], await self.client.time())
            now = now_s * 1000 + now_us // 1000
            n = await self.client.zcount(self._holders(marketplace), f"({now}", "+inf")
        return int(n)

    @asynccontextmanager
    async def slot(self, marketplace: str, concurrency: int, delay: float, holder: str,
                   timeout: float | None = None) -> AsyncIterator[Slot]:
        """``acquire`` for the block, ``release`` after it, whatever happens inside."""
        taken = await self.acquire(marketplace, concurrency, delay, holder, timeout)
        try:
            yield taken
        finally:
            await self.release(taken)
