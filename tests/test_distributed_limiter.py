"""Global politeness on a real redis-server: three worker processes, one marketplace
(a fixture marketplace whose pages answer slowly), at most two requests in flight as the
server itself counts them, and request starts spaced by the delay on Redis's clock."""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import os
import signal
import socket
import time
import uuid
from urllib.error import HTTPError
from urllib.request import urlopen

import pytest
import redis

from crawler.distributed.connection import connect_async
from crawler.distributed.limiter import Limiter
from crawler.exceptions import RedisUnavailable
from fixtures.faults import FaultSettings
from fixtures.server import FixtureServer, stats
from tests import asyncrun

pytestmark = pytest.mark.redis

PROCESSES, TASKS, REQUESTS = 3, 4, 3
CONCURRENCY, DELAY = 2, 0.02


def _get(url: str) -> int:
    try:
        with urlopen(url, timeout=30) as r:
            r.read()
            return int(r.status)
    except HTTPError as e:
        return e.code


def _crawler(redis_url: str, prefix: str, site: str, worker: int) -> None:
    """One worker: TASKS concurrent tasks, each fetching REQUESTS pages through the limiter;
    the grant times go to a Redis list for the test to read."""

    async def task(limiter: Limiter, n: int) -> None:
        for k in range(REQUESTS):
            async with limiter.slot("bazaar", CONCURRENCY, DELAY, f"w{worker}") as slot:
                # a distinct URL each time: the 'slow' fault slows a URL's first answer
                await asyncio.to_thread(_get, f"{site}/bazaar/sch?q=w{worker}t{n}r{k}")
            await limiter.client.rpush(f"{prefix}granted", slot.granted_ms)

    async def main() -> None:
        limiter = Limiter(await connect_async(redis_url), prefix=prefix)
        await asyncio.gather(*(task(limiter, n) for n in range(TASKS)))
        await limiter.client.aclose()

    asyncrun.run(main())


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:8]}:"


def test_three_workers_never_exceed_two_in_flight(redis_url: str, prefix: str) -> None:
    # without the limiter 12 tasks would have 12 slow pages in flight at once
    settings = FaultSettings(slow_share=1.0, slow_seconds=0.15)
    with FixtureServer(port=0, hard=False, faults={"slow": frozenset({"bazaar"})},
                       settings=settings) as server:
        ctx = multiprocessing.get_context("fork")
        workers = [ctx.Process(target=_crawler, args=(redis_url, prefix, server.url, w))
                   for w in range(PROCESSES)]
        for p in workers:
            p.start()
        for p in workers:
            p.join()
            assert p.exitcode == 0
        seen = stats(server.url)
    total = PROCESSES * TASKS * REQUESTS
    assert seen["requests"]["bazaar"] == total
    assert seen["peak"]["bazaar"] == CONCURRENCY  # reached, never passed
    assert seen["in_flight"] == {}
    client = redis.Redis.from_url(redis_url)
    granted = sorted(int(t) for t in client.lrange(f"{prefix}granted", 0, -1))
    assert len(granted) == total
    gaps = [b - a for a, b in itertools.pairwise(granted)]
    assert min(gaps) >= DELAY * 1000  # starts spaced by the delay, on Redis's clock
    assert not client.exists(f"{prefix}limit:bazaar:holders")  # every slot given back
    client.close()


def _holder(redis_url: str, prefix: str) -> None:
    async def main() -> None:
        limiter = Limiter(await connect_async(redis_url), prefix=prefix)
        await limiter.acquire("megamart", 1, 0, "doomed", hold_seconds=3)
        await limiter.client.set(f"{prefix}holding", 1)
        await asyncio.sleep(3600)  # until SIGKILL

    asyncrun.run(main())


def test_a_killed_workers_slot_comes_back(redis_url: str, prefix: str) -> None:
    p = multiprocessing.get_context("fork").Process(target=_holder, args=(redis_url, prefix))
    p.start()
    client = redis.Redis.from_url(redis_url)
    while not client.exists(f"{prefix}holding"):
        assert p.is_alive()
        time.sleep(0.02)
    os.kill(p.pid, signal.SIGKILL)
    p.join()

    async def check() -> None:
        limiter = Limiter(await connect_async(redis_url), prefix=prefix)
        assert await limiter.in_flight("megamart") == 1
        with pytest.raises(TimeoutError, match="no request slot for megamart"):
            await limiter.acquire("megamart", 1, 0, "me", timeout=0.05)
        slot = await limiter.acquire("megamart", 1, 0, "me", timeout=60)  # once it expires
        assert await limiter.in_flight("megamart") == 1
        assert await limiter.release(slot) is True
        assert await limiter.release(slot) is False
        assert await limiter.in_flight("megamart") == 0
        await limiter.client.aclose()

    asyncrun.run(check())
    client.close()


def test_a_renewed_slot_outlives_its_first_hold(redis_url: str, prefix: str) -> None:
    async def check() -> None:
        limiter = Limiter(await connect_async(redis_url), prefix=prefix, hold_seconds=0.5)
        kept = await limiter.acquire("tradehub", 1, 0, "me")
        gone = await limiter.acquire("bazaar", 1, 0, "me")
        assert await limiter.renew("tradehub", [kept.token], 30) == 1
        await asyncio.sleep(0.8)
        assert await limiter.in_flight("tradehub") == 1  # renewed
        assert await limiter.in_flight("bazaar") == 0  # ran out
        assert await limiter.renew("bazaar", [gone.token], 30) == 0  # not held: not revived
        assert await limiter.in_flight("bazaar") == 0
        assert await limiter.release(kept) is True
        await limiter.client.aclose()

    asyncrun.run(check())


def test_slots_are_per_marketplace_and_checked(redis_url: str, prefix: str) -> None:
    async def check() -> None:
        limiter = Limiter(await connect_async(redis_url), prefix=prefix)
        a = await limiter.acquire("bazaar", 1, 0, "w")
        b = await limiter.acquire("tradehub", 1, 0, "w", timeout=5)
        with pytest.raises(TimeoutError):
            await limiter.acquire("bazaar", 1, 0, "w", timeout=0.01)
        for bad in ({"concurrency": 0}, {"delay": -1.0}):
            args = {"concurrency": 1, "delay": 0.0, **bad}
            with pytest.raises(ValueError, match="bazaar"):
                await limiter.acquire("bazaar", args["concurrency"], args["delay"], "w")
        with pytest.raises(ValueError, match="cannot key"):
            await limiter.acquire("ba zaar", 1, 0, "w")
        await limiter.release(a)
        await limiter.release(b)
        await limiter.client.aclose()

    asyncrun.run(check())


def test_redis_unreachable_for_the_limiter() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(RedisUnavailable) as caught:
        asyncrun.run(connect_async(f"redis://127.0.0.1:{port}/0", timeout=2))
    assert str(caught.value).startswith(f"Redis at redis://127.0.0.1:{port}/0 is unavailable")
    assert caught.value.exit_code == 2


def test_stats_count_pages_not_assets(fixture_server: FixtureServer) -> None:
    before = stats(fixture_server.url)
    _get(f"{fixture_server.url}/shopfront/static/nope.js")
    _get(f"{fixture_server.url}/img/x.png")
    _get(f"{fixture_server.url}/_fixtures/health")
    after = stats(fixture_server.url)
    assert after["requests"] == before["requests"]
    _get(f"{fixture_server.url}/shopfront/")
    assert stats(fixture_server.url)["requests"]["shopfront"] == \
        before["requests"].get("shopfront", 0) + 1
