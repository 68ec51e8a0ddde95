"""The profile spider split in two for a distributed sweep (``crawler.distributed``).

- ``CoordinatorSpider`` runs in ``brandsweep sweep --redis``, one per marketplace: it seeds
  the marketplace's search requests into its queue, then takes the batches workers send
  back and feeds them through the profile spider's own bookkeeping (health, how each
  keyword ended, listings waiting for their detail page), so the crawler's pipelines
  (photos, store, judging) and its health are those of a local sweep. It is the one writer
  of the store; it asks for a detail page when its bookkeeping says so.
- ``WorkerSpider`` runs in ``brandsweep worker``, one per marketplace of a sweep the worker
  has requests of: each leased request is read by a ``LeaseSpider`` of its own (the
  profile spider's reading, nothing remembered between requests), and what it produced
  (requests it spawned, listings, health) goes back in the lease's acknowledgement, in
  one Redis step.

A batch (one per leased request) is plain JSON: ``listings`` (complete), ``waiting``
(listings that need their detail page), ``details`` (listing id -> values read off a
detail page), ``lost`` (listing ids whose detail page failed), ``seen`` (listing ids of
the cards read), ``outcomes`` ([keyword, outcome, failed] in order), ``health`` (the
request's own counts), ``retries`` and ``errors`` (exception class -> count).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import asdict, fields
from typing import Any, Self

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, DontCloseSpider
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.distributed import codec
from crawler.distributed.connection import connect
from crawler.distributed.jobs import Job, profile_digest
from crawler.distributed.queue import Lease, LeasedQueue, QueuedRequest
from crawler.exceptions import RedisUnavailable
from crawler.extract import fields as extract
from crawler.items import Listing
from crawler.profiles.model import MarketplaceProfile
from spiders.profile import ProfileSpider

logger = logging.getLogger(__name__)
# what the coordinator tells the person running it (cli/sweep.py shows it on stderr)
said = logging.getLogger("brandsweep.coordinator")
WAITING_SECONDS = 30.0  # no worker took a request for this long: say so
LEASE = "brandsweep_lease"  # meta: the lease id a request (and its redirects) belongs to
_LISTING_FIELDS = {f.name for f in fields(Listing)}


def listing_of(data: dict[str, Any]) -> Listing:
    """A listing as a batch carries it."""
    return Listing(**{k: v for k, v in data.items() if k in _LISTING_FIELDS})


# -- the worker's side ----------------------------------------------------------------------


class LeaseSpider(ProfileSpider):
    """The profile spider reading one leased request: what it would have remembered
    across requests (listings waiting for a detail page, detail values, how keywords
    ended) is recorded for the coordinator instead."""

    def __init__(self, profile: MarketplaceProfile, keywords: list[str],
                 max_pages: int | None, crawler: Crawler, browser: bool = False) -> None:
        super().__init__(profile, keywords, max_pages)
        self.crawler = crawler
        self.settings = crawler.settings
        self.browser = self.browser or browser
        self.waits: list[Listing] = []
        self.read: dict[str, dict[str, extract.Value]] = {}
        self.lost: list[str] = []
        self.outcomes: list[list[Any]] = []

    def card_listing(self, listing: Listing) -> Iterator[Any]:
        if self._needs_detail(listing):
            self.waits.append(listing)  # the coordinator asks for its detail page
        else:
            yield listing

    def detail_read(self, listing_id: str, values: dict[str, extract.Value]
                    ) -> Iterator[Listing]:
        self.read[listing_id] = values
        return iter(())

    def detail_lost(self, listing_id: str) -> Iterator[Listing]:
        self.lost.append(listing_id)
        return iter(())

    def _done(self, keyword: str, outcome: str, failed: bool = False) -> None:
        self.outcomes.append([keyword, outcome, failed])
        super()._done(keyword, outcome, failed)

    def batch(self, listings: list[Listing], retries: int, errors: dict[str, int]
              ) -> dict[str, Any]:
        return {"listings": [asdict(x) for x in listings],
                "waiting": [asdict(x) for x in self.waits],
                "details": self.read, "lost": self.lost, "seen": sorted(self.seen),
                "outcomes": self.outcomes, "health": self.health.as_dict(),
                "retries": retries, "errors": errors}


class LeaseRun:
    """One leased request in a worker: its callback or errback run by its own
    ``LeaseSpider``, the output acknowledged with the lease."""

    def __init__(self, owner: WorkerSpider, lease: Lease, spider: LeaseSpider,
                 callback: Callable[..., Any] | None, errback: Callable[..., Any] | None,
                 kwargs: dict[str, Any]) -> None:
        self.owner = owner
        self.lease = lease
        self.spider = spider
        self.callback = callback
        self.errback = errback
        self.kwargs = kwargs

    async def on_response(self, response: Response) -> None:
        retries = int(response.meta.get("retry_times", 0))
        await self._finish(self.callback, (response,), self.kwargs, retries)

    async def on_failure(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        retries = int(request.meta.get("retry_times", 0))
        await self._finish(self.errback, (failure,), {}, retries)

    async def on_dropped(self, request: scrapy.Request) -> None:
        """The redirect went back to a page of its own chain (a loop)."""
        self.spider.on_dropped(request)
        await self._finish(None, (), {}, int(request.meta.get("retry_times", 0)))

    async def _finish(self, method: Callable[..., Any] | None, args: tuple[Any, ...],
                      kwargs: dict[str, Any], retries: int) -> None:
        outputs: list[Any] = []
        errors: dict[str, int] = {}
        try:
            if method is not None:
                await _collect(method(*args, **kwargs), outputs)
        except CloseSpider:
            pass  # the spider's _fail: its health says why; the coordinator closes it
        except Exception as exc:  # a page that cannot be read is counted
            errors[type(exc).__name__] = 1
            logger.exception("%s: error reading %s", self.spider.name,
                             self.lease.request.get("url"))
        children = [QueuedRequest.of(r, self.spider,
                                     self.owner.crawler.request_fingerprinter.fingerprint(r))
                    for r in outputs if isinstance(r, scrapy.Request)]
        listings = [x for x in outputs if isinstance(x, Listing)]
        batch = self.spider.batch(listings, retries, errors)
        await self.owner.acknowledge(self.lease, children, batch)


async def _collect(result: Any, into: list[Any]) -> None:
    if inspect.isawaitable(result):
        result = await result
    if result is None:
        return
    if inspect.isasyncgen(result):
        async for out in result:
            into.append(out)
    else:
        into.extend(result)


class WorkerSpider(ProfileSpider):
    """A worker's crawler for one marketplace of one sweep: it downloads leased requests
    (the worker hands them in with ``take``) and never closes by itself."""

    name = "worker"

    def __init__(self, profile: MarketplaceProfile, job: Job, **kwargs: Any) -> None:
        super().__init__(profile, job.keywords, job.max_pages, **kwargs)
        self.job = job
        self.runs: dict[str, LeaseRun] = {}
        self.queue: LeasedQueue | None = None
        self.finished: Callable[[str], None] = lambda lease_id: None
        self._pending: set[asyncio.Future[None]] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.keep_open, signal=signals.spider_idle)
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        return
        yield  # an async generator that yields nothing: requests come from ``take``

    def keep_open(self) -> None:
        raise DontCloseSpider

    def take(self, lease: Lease) -> None:
        """Download and read ``lease``'s request in this crawler."""
        if profile_digest(self.profile) != self.job.profile_digest:
            raise ValueError(
                f"marketplace {self.profile.name}: this worker's profile "
                f"({self.profile.source}) differs from the coordinator's; give every "
                "worker the coordinator's marketplaces directory (--marketplaces)")
        reader = LeaseSpider(self.profile, self.job.keywords, self.job.max_pages,
                             self.crawler, browser=self.job.browser)
        request = codec.request_of(lease.request, reader)
        run = LeaseRun(self, lease, reader, request.callback, request.errback,
                       dict(request.cb_kwargs))
        self.runs[lease.lease_id] = run
        meta = dict(request.meta)
        meta[LEASE] = lease.lease_id
        # Redis already filtered duplicates; this crawler only refuses a redirect back
        # into its own chain (crawler.distributed.dupefilter)
        self.crawler.engine.crawl(request.replace(
            callback=run.on_response, errback=run.on_failure, cb_kwargs={}, meta=meta))

    def on_dropped(self, request: scrapy.Request, spider: Any = None) -> None:
        run = self.runs.get(request.meta.get(LEASE, ""))
        if run is not None:
            self._pending.add(task := asyncio.ensure_future(run.on_dropped(request)))
            task.add_done_callback(self._pending.discard)

    async def acknowledge(self, lease: Lease, children: list[QueuedRequest],
                          batch: dict[str, Any]) -> None:
        self.runs.pop(lease.lease_id, None)
        try:
            assert self.queue is not None
            added = await asyncio.to_thread(self.queue.ack, lease.lease_id, children, [batch])
            if added is None:
                logger.warning("%s: the lease of %s ran out or its sweep was cleared; "
                               "its results are dropped (the request runs again elsewhere)",
                               self.profile.name, lease.request.get("url"))
        except RedisUnavailable as exc:
            logger.error("%s", exc)
        finally:
            self.finished(lease.lease_id)


# -- the coordinator's side -----------------------------------------------------------------


class CoordinatorSpider(ProfileSpider):
    """Runs one marketplace of ``brandsweep sweep --redis`` through the workers (settings
    ``BRANDSWEEP_REDIS_URL``, ``BRANDSWEEP_QUEUE_ID``)."""

    name = "coordinator"
    poll_seconds = 0.2

    def __init__(self, profile: MarketplaceProfile, keywords: list[str],
                 max_pages: int | None = None, **kwargs: Any) -> None:
        super().__init__(profile, keywords, max_pages, **kwargs)
        self.queue: LeasedQueue | None = None
        self.qid = ""

    async def start(self) -> AsyncIterator[Any]:
        s = self.settings
        self.qid = s["BRANDSWEEP_QUEUE_ID"]
        self.crawler.signals.connect(self._clear, signal=signals.spider_closed)
        try:
            self.queue = LeasedQueue(await asyncio.to_thread(connect,
                                                             s["BRANDSWEEP_REDIS_URL"]))
            job = Job(self.profile.name, profile_digest(self.profile), self.keywords,
                      self.max_pages, s.getfloat("DOWNLOAD_TIMEOUT"))
            await asyncio.to_thread(self.queue.set_job, self.qid, job.as_dict())
            seeds = [r async for r in super().start()]
            await self._push(seeds, seed=True)
            async for out in self._drain():
                yield out
        except RedisUnavailable as exc:
            if self.health.status == "ok":
                self.health.status = "failed"
                self.health.reason = (f"{exc}; the store keeps what was read: run the "
                                      "sweep again to finish it")
        # a marketplace that failed ends here, not with CloseSpider raised out of start():
        # items start() yielded are still in the pipelines, and Scrapy 2.19 would wait for
        # them for ever; once they are stored the crawl closes as finished, its health
        # saying how it ended (as a local crawl's does)

    async def _drain(self) -> AsyncIterator[Any]:
        assert self.queue is not None
        loop = asyncio.get_running_loop()
        progress, warned = loop.time(), False
        while True:
            batches = await asyncio.to_thread(self.queue.take_items, self.qid, 200)
            if batches:
                progress = loop.time()
            for batch in batches:
                try:
                    for out in self._absorb(batch):
                        if isinstance(out, scrapy.Request):
                            await self._push([out])
                        else:
                            yield out
                except CloseSpider:
                    # blocked or broken for one worker is for all: nothing more of it runs
                    await asyncio.to_thread(self.queue.clear, self.qid)
                    return
            if batches:
                continue
            counts = await asyncio.to_thread(self.queue.counts, self.qid)
            if counts.done:
                # an ack queues its batch in the same step: with nothing outstanding,
                # every batch is in the list already
                if not await asyncio.to_thread(self.queue.items, self.qid, 0, 0):
                    break
                continue
            if counts.leased:
                progress = loop.time()
            elif not warned and loop.time() - progress > WAITING_SECONDS:
                warned = True
                said.warning("%s: no worker has taken a request for %.0f s (%d queued): "
                             "start one with `brandsweep worker --redis URL`", self.profile.name,
                             WAITING_SECONDS, counts.queued)
            await asyncio.sleep(self.poll_seconds)
        for out in self._dead_letters():
            yield out
        for listing_id in list(self.waiting):  # a detail request no worker could finish
            for out in self.detail_lost(listing_id):
                yield out

    async def _push(self, requests: list[scrapy.Request], seed: bool = False) -> None:
        assert self.queue is not None
        fingerprint = self.crawler.request_fingerprinter.fingerprint
        for request in requests:
            queued = QueuedRequest.of(request, self, fingerprint(request))
            added = await asyncio.to_thread(self.queue.push_many, self.qid, [queued])
            if not added and seed:
                self.on_dropped(request)  # another keyword's search is this very page

    def _absorb(self, batch: dict[str, Any]) -> Iterator[Any]:
        """One leased request's results, through the profile spider's bookkeeping."""
        stats = self.crawler.stats
        self._count(batch["health"])
        if stats is not None:
            if batch.get("retries"):
                stats.inc_value("retry/count", int(batch["retries"]))
            for name, n in batch.get("errors", {}).items():
                stats.inc_value("spider_exceptions/count", int(n))
                stats.inc_value(f"spider_exceptions/{name}", int(n))
        self.seen.update(batch["seen"])
        self.health.listings = len(self.seen)
        for keyword, outcome, failed in batch["outcomes"]:
            self._done(keyword, outcome, failed)
        for data in batch["listings"]:
            yield listing_of(data)
        for data in batch["waiting"]:
            yield from self.card_listing(listing_of(data))
        for listing_id, values in batch["details"].items():
            yield from self.detail_read(listing_id, values)
        for listing_id in batch["lost"]:
            yield from self.detail_lost(listing_id)
        status = batch["health"]["status"]
        if status != "ok":
            self._fail(status, batch["health"]["reason"] or status)

    def _count(self, got: dict[str, Any]) -> None:
        """Add one request's health to the marketplace's."""
        health = self.health
        for render, n in got["pages"].items():
            health.pages[render] = health.pages.get(render, 0) + int(n)
        health.detail_pages += got["detail_pages"]
        health.cards += got["cards"]
        health.no_results += got["no_results"]
        health.failed_pages += got["failed_pages"]
        health.refused_urls += got["refused_urls"]
        health.refused = (health.refused + got["refused"])[:20]
        health.price_warnings += got["price_warnings"]
        if got["switched_to_browser"] and not health.switched_to_browser:
            health.switched_to_browser = self.browser = True
            if self.queue is not None:  # later requests of this sweep start in the browser
                job = self.queue.job(self.qid)
                if job is not None:
                    self.queue.set_job(self.qid, {**job, "browser": True})

    def _dead_letters(self) -> Iterator[Any]:
        """Requests whose leases ran out too often (their workers died or hung on them)."""
        assert self.queue is not None
        for data in self.queue.dead_letters(self.qid).values():
            meta = data.get("meta") or {}
            url = str(data.get("url", ""))
            why = f"{url}: given up after {self.queue.max_redeliveries + 1} workers' " \
                "leases of it ran out (they died or hung on it)"
            self.health.failed_pages.append(why[:300])
            if meta.get("keyword") is not None:
                self._done(meta["keyword"], why[:400], failed=True)
            listing_id = (data.get("cb_kwargs") or {}).get("listing_id")
            if listing_id is not None:
                yield from self.detail_lost(listing_id)

    def _clear(self) -> None:
        """Whatever ended the crawl, nothing of it stays in Redis for workers to do."""
        if self.queue is not None:
            try:
                self.queue.clear(self.qid)
            except RedisUnavailable as exc:
                logger.error("%s: could not clear queue %s: %s", self.name, self.qid, exc)
