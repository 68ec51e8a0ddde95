"""``brandsweep worker``: a long-running process that downloads and reads the requests of
any distributed sweep, from the Redis the coordinators share.

The worker leases requests (``crawler.distributed.queue``) while it holds fewer than
``concurrency``; each goes to a Scrapy crawler of its marketplace and sweep (made on the
first request of it: the marketplace's profile from this worker's marketplaces, its
settings, its own Chromium for a browser marketplace; closed once the sweep is gone from
Redis), which downloads it under the marketplace's shared politeness
(``crawler.downloadermiddlewares.globallimit``) and reads it with the profile spider
(``spiders.distributed``). The results go back in the lease's acknowledgement. Leases
held are renewed every third of their length, so only a worker that died (or hangs)
loses them.

SIGTERM or Ctrl-C: no new leases; requests in flight get ``GRACE_SECONDS`` to finish, the
rest are handed back to the queue at once (a second signal hands back at once). With
``idle_exit`` the worker ends after that many seconds with nothing to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from crawler.distributed.connection import connect
from crawler.distributed.jobs import Job
from crawler.distributed.queue import PREFIX, Lease, LeasedQueue
from crawler.exceptions import RedisUnavailable
from crawler.profiles.model import MarketplaceProfile

logger = logging.getLogger("brandsweep.worker")
GRACE_SECONDS = 10.0
POLL_SECONDS = 0.2
# the spider a worker's crawlers run; named, not imported (spiders sit above the library)
WORKER_SPIDER = "spiders.distributed.WorkerSpider"


@dataclass
class WorkerOptions:
    """How a worker runs."""

    redis_url: str
    concurrency: int = 8  # leased requests in flight at once, all marketplaces together
    idle_exit: float | None = None  # end after this long with nothing to do
    lease_seconds: float = 60.0
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    log_level: str | None = None
    prefix: str = PREFIX


@dataclass
class WorkerReport:
    """What a worker did, for its last line."""

    leased: int = 0
    acked: int = 0
    handed_back: int = 0  # released unfinished at shutdown
    refused: int = 0  # handed back as failed: no profile for it, or a different one
    crawlers: int = 0  # marketplace crawlers started (one per marketplace and sweep)
    reason: str = "stopped"  # idle | stopped | redis lost
    problem: str | None = None
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        """0 when it ended as asked (idle, a signal); 1 when Redis was lost."""
        return 1 if self.problem else 0

    def line(self) -> str:
        return (f"worker ended ({self.reason}) after {self.seconds:.1f} s: {self.leased} "
                f"requests leased, {self.acked} done, {self.handed_back} handed back, "
                f"{self.refused} refused, {self.crawlers} marketplace crawlers")


class Worker:
    """One worker process; ``run`` blocks until it ends."""

    def __init__(self, options: WorkerOptions,
                 profiles: dict[str, MarketplaceProfile]) -> None:
        if options.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.options = options
        self.profiles = profiles
        self.report = WorkerReport()
        self.held: set[str] = set()
        self.crawlers: dict[str, Any] = {}  # queue id -> Crawler
        self.stopping = False
        self.hurry = False  # a second signal: hand back at once
        self._wake: asyncio.Event | None = None
        self._queue: LeasedQueue | None = None

    def connect(self) -> None:
        """Reach the Redis: ``RedisUnavailable`` (exit 2) when it does not answer."""
        self._queue = LeasedQueue(connect(self.options.redis_url),
                                  prefix=self.options.prefix)

    def run(self) -> WorkerReport:
        """Connect (``RedisUnavailable`` before anything else), then work until idle for
        ``idle_exit`` seconds, a signal, or Redis is lost."""
        from crawler import process as scrapy_process

        if self._queue is None:
            self.connect()
        started = time.monotonic()
        self.process = scrapy_process.crawler_process(self.options.log_level)
        # only now: the first import of twisted's reactor installs one, which must be
        # the asyncio reactor crawler_process installs
        from twisted.internet import reactor

        async def main() -> None:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stop)
            try:
                await self._main()
            finally:
                reactor.stop()  # type: ignore[misc]

        tasks: list[asyncio.Task[None]] = []
        reactor.callWhenRunning(
            lambda: tasks.append(asyncio.ensure_future(main())))
        self.process.start(stop_after_crawl=False, install_signal_handlers=False)
        self.report.seconds = time.monotonic() - started
        return self.report

    def stop(self) -> None:
        """SIGTERM / SIGINT: finish or hand back; a second one hands back at once."""
        self.hurry = self.stopping
        self.stopping = True
        if self._wake is not None:
            self._wake.set()

    async def _main(self) -> None:
        self._wake = asyncio.Event()
        renewing = asyncio.ensure_future(self._renew())
        try:
            await self._work()
        except RedisUnavailable as exc:
            self.report.reason = "redis lost"
            self.report.problem = str(exc)
        except Exception as exc:  # it must still hand back what it holds
            logger.exception("worker failed")
            self.report.reason = "error"
            self.report.problem = f"{type(exc).__name__}: {exc}"
        finally:
            renewing.cancel()
            await self._hand_back()
            for crawler in list(self.crawlers.values()):
                await self._close(crawler)

    async def _work(self) -> None:
        assert self._queue is not None and self._wake is not None
        loop = asyncio.get_running_loop()
        idle_since = loop.time()
        last_sweep = 0.0
        while not self.stopping:
            if len(self.held) >= self.options.concurrency:
                self._wake.clear()
                await _wait(self._wake, 1.0)
                continue
            lease = await asyncio.to_thread(self._queue.lease, self.options.worker_id,
                                            self.options.lease_seconds)
            now = loop.time()
            if lease is None:
                if self.held:
                    idle_since = now
                elif self.options.idle_exit is not None and \
                        now - idle_since >= self.options.idle_exit:
                    self.report.reason = "idle"
                    return
                if now - last_sweep >= 5.0:
                    last_sweep = now
                    await self._close_finished()
                self._wake.clear()
                await _wait(self._wake, POLL_SECONDS)
                continue
            idle_since = now
            self.report.leased += 1
            await self._start(lease)
        self.report.reason = "stopped"

    async def _start(self, lease: Lease) -> None:
        assert self._queue is not None
        try:
            crawler = await self._crawler_for(lease.sweep_id)
            if crawler is None:  # the sweep was cleared since it was leased
                await asyncio.to_thread(self._queue.release, lease.lease_id)
                return
            self.held.add(lease.lease_id)
            crawler.spider.take(lease)
        except (ValueError, KeyError, TypeError) as exc:
            # counted as failed, so a request no worker can run ends dead-lettered
            self.held.discard(lease.lease_id)
            self.report.refused += 1
            logger.error("refusing a request of %s: %s", lease.sweep_id, exc)
            await asyncio.to_thread(self._queue.nack, lease.lease_id)

    def _finished(self, lease_id: str) -> None:
        if lease_id in self.held:
            self.held.discard(lease_id)
            self.report.acked += 1
        if self._wake is not None:
            self._wake.set()

    async def _crawler_for(self, qid: str) -> Any:
        """The running crawler of queue ``qid``'s marketplace, started on first use."""
        if qid in self.crawlers:
            return self.crawlers[qid]
        assert self._queue is not None
        spec = await asyncio.to_thread(self._queue.job, qid)
        if spec is None:
            return None
        job = Job.of(spec)
        profile = self.profiles.get(job.marketplace)
        if profile is None:
            raise KeyError(f"marketplace {job.marketplace!r} is not among this worker's "
                           f"profiles ({', '.join(sorted(self.profiles))}); start it with "
                           "--marketplaces DIR holding the coordinator's profile")
        crawler = self._make_crawler(profile, job)
        opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        from scrapy import signals

        def on_open() -> None:
            if not opened.done():
                opened.set_result(None)

        crawler.signals.connect(on_open, signal=signals.spider_opened, weak=False)
        self.crawlers[qid] = crawler
        self.process.crawl(crawler, profile=profile, job=job)
        await opened
        crawler.spider.queue = self._queue
        crawler.spider.finished = self._finished
        self.report.crawlers += 1
        logger.info("started %s of queue %s", job.marketplace, qid)
        return crawler

    def _make_crawler(self, profile: MarketplaceProfile, job: Job) -> Any:
        from scrapy.crawler import Crawler

        from crawler import process as scrapy_process
        from crawler import settings as bs
        from crawler.browser.chromium import find_chromium

        chromium = find_chromium() if profile.search.render != "http" else None
        settings = bs.for_profile(profile, db=None, sweep_id=None, campaign=None,
                                  timeout=job.timeout, log_level=self.options.log_level,
                                  chromium=chromium, deadline=0) | \
            bs.for_worker(profile, self.options.redis_url, self.options.concurrency,
                          self.options.lease_seconds)
        return Crawler(scrapy_process.spider(WORKER_SPIDER), settings)

    async def _close_finished(self) -> None:
        """Close the crawlers of sweeps that are gone from Redis (done or cleared)."""
        if not self.crawlers:
            return
        assert self._queue is not None
        live = set(await asyncio.to_thread(self._queue.sweeps))
        for qid, crawler in list(self.crawlers.items()):
            if qid not in live and not crawler.spider.runs:
                await self._close(crawler)
                del self.crawlers[qid]

    async def _close(self, crawler: Any) -> None:
        from twisted.internet.defer import Deferred

        try:
            await Deferred.asFuture(crawler.stop(), asyncio.get_running_loop())
        except Exception:  # closing what is left must go on
            logger.exception("closing a crawler")

    async def _renew(self) -> None:
        """Keep the leases held alive: only a worker that died loses them."""
        assert self._queue is not None
        every = max(0.5, self.options.lease_seconds / 3)
        while True:
            await asyncio.sleep(every)
            for lease_id in list(self.held):
                try:
                    await asyncio.to_thread(self._queue.renew, lease_id,
                                            self.options.lease_seconds)
                except RedisUnavailable as exc:
                    logger.error("%s", exc)
                    return

    async def _hand_back(self) -> None:
        """Let requests in flight finish for ``GRACE_SECONDS`` (none after a second
        signal), then hand the rest back to the queue."""
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        until = loop.time() + (0 if self.hurry or self.report.problem else GRACE_SECONDS)
        while self.held and loop.time() < until and not self.hurry:
            await asyncio.sleep(0.1)
        if self.held:
            try:
                self.report.handed_back = await asyncio.to_thread(
                    self._queue.release_worker, self.options.worker_id)
            except RedisUnavailable as exc:
                logger.error("could not hand back %d requests: %s", len(self.held), exc)
            self.held.clear()


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)

