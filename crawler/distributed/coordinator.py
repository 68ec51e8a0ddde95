"""What ``brandsweep sweep --redis`` does beyond a local sweep (``crawler.sweep.run``):
check Redis before anything is written, run every marketplace with the coordinator spider,
and clear what interrupted sweeps of the same store left queued."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from crawler.distributed.connection import connect
from crawler.distributed.jobs import queue_id, store_token
from crawler.distributed.queue import LeasedQueue
from crawler.exceptions import ConfigError
from crawler.profiles.model import MarketplaceProfile

logger = logging.getLogger(__name__)
# named, not imported: spiders sit above the library (the import contract)
COORDINATOR_SPIDER = "spiders.distributed.CoordinatorSpider"


def open_queue(url: str) -> LeasedQueue:
    """The shared queue at ``url``; ``RedisUnavailable`` (exit 2) when it does not answer."""
    return LeasedQueue(connect(url))


def check_profiles(profiles: list[MarketplaceProfile]) -> None:
    """Workers run the profile spider: a profile with a spider of its own cannot be
    swept through them."""
    own = [p for p in profiles if p.spider]
    if own:
        raise ConfigError([f"{p.source or p.name}: spider: {p.spider!r}: a distributed sweep "
                           "(--redis) runs the profile spider only; sweep this marketplace "
                           "without --redis" for p in own])


def settings(profile: MarketplaceProfile, url: str, db: Path, sweep_id: int
             ) -> dict[str, Any]:
    """The coordinator crawler's settings for ``profile``, over the local sweep's."""
    from crawler import settings as bs

    return bs.distributed(profile, url) | {
        "BRANDSWEEP_QUEUE_ID": queue_id(db, sweep_id, profile.name)}


def clear_stale(queue: LeasedQueue, db: Path, running: set[int]) -> int:
    """Clear the queues of this store's sweeps that are no longer running (a killed
    coordinator's): workers must not go on fetching for nobody. Returns how many."""
    token = store_token(db)
    cleared = 0
    for qid in queue.sweeps():
        head, _, rest = qid.partition(".")
        sweep = rest.partition(".")[0]
        if head == token and sweep.isdigit() and int(sweep) not in running:
            dropped = queue.clear(qid)
            cleared += 1
            logger.info("cleared queue %s of an interrupted sweep (%d requests)", qid, dropped)
    return cleared
