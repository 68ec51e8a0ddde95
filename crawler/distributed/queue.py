"""The leased request queue that distributed sweeps share: nothing lost, nothing twice.

scrapy-redis pops a request and forgets it, so a worker killed mid-request loses it. Here
a worker *leases* a request for a while and *acks* it when done; the ack atomically
removes the lease, enqueues the requests the response spawned (deduplicated by
fingerprint), and stores the items it produced. A lease that runs out (the worker died or
hung) goes back to the queue on the next ``reap``; a request whose lease ran out more than
``max_redeliveries`` times is dead-lettered and counted, never dropped silently. Every
change is one Lua script, so two workers, or a worker and the reaper, never see half of it.

Accounting is exact: ``outstanding = seeded + spawned - acked - dead``, changed in the same
scripts, so a sweep's crawl is complete exactly when ``outstanding(sweep_id) == 0``.

Time is Redis's own clock (``TIME``), so workers with skewed clocks agree on expiry. The
scripts touch keys they compute, so this needs a standalone Redis (not Redis Cluster).

Keys (``brandsweep:`` is the default prefix; ``<s>`` a sweep id, ``<m>`` a message id, a
zero-padded sequence number within the sweep):

=====================================  =====  ==============================================
``brandsweep:sweeps``                  zset   sweeps with queued requests, round-robin order
``brandsweep:sweep-ids``               set    every sweep the queue holds anything for
``brandsweep:tick``                    str    counter behind the round-robin order
``brandsweep:leases``                  zset   lease id -> deadline (ms, Redis clock)
``brandsweep:lease:<lease>``           hash   sweep, msg, worker, score of one lease
``brandsweep:worker:<w>:leases``       set    lease ids a worker holds
``brandsweep:sweep:<s>:queue``         zset   message ids waiting, score -priority (FIFO ties)
``brandsweep:sweep:<s>:requests``      hash   message id -> request JSON (queued or leased)
``brandsweep:sweep:<s>:expired``       hash   message id -> leases of it that ran out
``brandsweep:sweep:<s>:leases``        set    lease ids out for this sweep
``brandsweep:sweep:<s>:seen``          set    fingerprints already enqueued (deduplication)
``brandsweep:sweep:<s>:dead``          hash   message id -> request JSON, dead-lettered
``brandsweep:sweep:<s>:items``         list   item JSON pushed by acks, in ack order
``brandsweep:sweep:<s>:counts``        hash   seeded, spawned, duplicates, acked, items,
                                              redelivered, released, dead, outstanding
``brandsweep:sweep:<s>:seq``           str    message id counter
``brandsweep:sweep:<s>:job``           str    what workers need to run it (JSON, ``jobs``)
=====================================  =====  ==============================================

A stuck sweep is removed whole with ``clear(sweep_id)``; late acks for it are refused.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any, cast

import redis
from scrapy import Request, Spider

from crawler.distributed import codec, scripts
from crawler.distributed.connection import unavailable_as_error, url_of

PREFIX = "brandsweep:"
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")

@dataclass(frozen=True)
class QueuedRequest:
    """A request to enqueue: Scrapy's request dict, its priority (higher leaves first), and
    a fingerprint for deduplication within the sweep (``None``: never filtered)."""

    request: dict[str, Any]
    priority: int = 0
    fingerprint: str | None = None

    @classmethod
    def of(cls, request: Request, spider: Spider | None = None,
           fingerprint: bytes | str | None = None) -> QueuedRequest:
        """From a Scrapy request: its priority, and no fingerprint when ``dont_filter``."""
        fp = None if request.dont_filter or fingerprint is None else (
            fingerprint.hex() if isinstance(fingerprint, bytes) else fingerprint)
        return cls(codec.request_to_dict(request, spider), request.priority, fp)


@dataclass(frozen=True)
class Lease:
    """A request a worker holds until it acks, releases or the lease runs out."""

    lease_id: str
    sweep_id: str
    request: dict[str, Any]
    failed_before: int  # leases of this request that ran out (or were nacked) before


@dataclass(frozen=True)
class SweepCounts:
    """One sweep's accounting, read in one step."""

    seeded: int
    spawned: int
    duplicates: int  # requests not enqueued: their fingerprint was seen before
    acked: int
    items: int
    redelivered: int  # leases that ran out, the request queued again
    released: int  # leases handed back unfinished (shutdown), queued again
    dead: int  # dead-lettered: ran out more than max_redeliveries times
    outstanding: int  # seeded + spawned - acked - dead
    queued: int
    leased: int

    @property
    def done(self) -> bool:
        """True when the sweep's crawl is complete (nothing queued, nothing leased)."""
        return self.outstanding == 0


def _check_id(kind: str, value: str) -> str:
    if not _ID.fullmatch(value):
        raise ValueError(f"{kind} {value!r} must be 1-128 letters, digits or . _ @ - "
                         "(starting with a letter or digit)")
    return value


class LeasedQueue:
    """The request queue of every distributed sweep, in one Redis.

    ``client`` is a blocking ``redis.Redis`` (see ``connection.connect``); ``prefix``
    namespaces every key (tests use their own); a request whose lease runs out more than
    ``max_redeliveries`` times is dead-lettered.
    """

    def __init__(self, client: redis.Redis, prefix: str = PREFIX,
                 max_redeliveries: int = 3) -> None:
        if max_redeliveries < 0:
            raise ValueError("max_redeliveries cannot be negative")
        self.client = client
        self.prefix = prefix
        self.max_redeliveries = max_redeliveries
        self._url = url_of(client)
        self._push = client.register_script(scripts.PUSH)
        self._lease = client.register_script(scripts.LEASE)
        self._ack = client.register_script(scripts.ACK)
        self._give_back = client.register_script(scripts.GIVE_BACK)
        self._release_worker = client.register_script(scripts.RELEASE_WORKER)
        self._reap = client.register_script(scripts.REAP)
        self._renew = client.register_script(scripts.RENEW)
        self._clear = client.register_script(scripts.CLEAR)

    def _key(self, sweep_id: str, suffix: str) -> str:
        return f"{self.prefix}sweep:{sweep_id}:{suffix}"

    @staticmethod
    def _flat(requests: list[QueuedRequest]) -> list[str | int]:
        out: list[str | int] = []
        for r in requests:
            out += [codec.dumps(r.request), int(r.priority), r.fingerprint or ""]
        return out

    def push(self, sweep_id: str, request: dict[str, Any], priority: int = 0,
             fingerprint: str | None = None) -> bool:
        """Seed ``sweep_id`` with one request; False when its fingerprint was seen."""
        return self.push_many(sweep_id, [QueuedRequest(request, priority, fingerprint)]) == 1

    def push_many(self, sweep_id: str, requests: list[QueuedRequest]) -> int:
        """Seed ``sweep_id`` with ``requests`` in one step; returns how many were enqueued."""
        _check_id("sweep id", sweep_id)
        if not requests:
            return 0
        args = [self.prefix, sweep_id, *self._flat(requests)]
        with unavailable_as_error(self._url):
            added: list[int] = self._push(args=args)
        return sum(added)

    def lease(self, worker_id: str, lease_seconds: float, sweep_id: str | None = None,
              reap: bool = True) -> Lease | None:
        """The next request (highest priority, oldest first; sweeps take turns), held by
        ``worker_id`` for ``lease_seconds``; ``None`` when nothing is queued. Leases that
        ran out are reaped first unless ``reap`` is False."""
        _check_id("worker id", worker_id)
        if sweep_id is not None:
            _check_id("sweep id", sweep_id)
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        if reap:
            self.reap()
        lease_id = f"{worker_id}/{uuid.uuid4().hex}"
        with unavailable_as_error(self._url):
            got = self._lease(args=[self.prefix, worker_id, lease_id,
                                    max(1, round(lease_seconds * 1000)), sweep_id or ""])
        if not got:
            return None
        sweep, body, failed = got
        return Lease(lease_id, sweep.decode(), codec.loads(body), int(failed))

    def ack(self, lease_id: str, children: list[QueuedRequest] | None = None,
            items: list[dict[str, Any]] | None = None) -> int | None:
        """Finish a leased request: in one step drop the lease, enqueue ``children`` (those
        not seen before in the sweep) and append ``items`` (JSON) to the sweep's items.

        Returns how many children were enqueued, or ``None`` when the lease is no longer
        held (it ran out and was reaped, or the sweep was cleared): then nothing is
        changed, and the worker drops its results, since the request runs again elsewhere.
        """
        children = children or []
        texts = [json.dumps(item, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
                 for item in items or []]
        args = [self.prefix, lease_id, len(children), *self._flat(children), *texts]
        with unavailable_as_error(self._url):
            added: int = self._ack(args=args)
        return None if added < 0 else added

    def release(self, lease_id: str) -> bool:
        """Hand a lease back unfinished (a worker shutting down): the request is queued
        again at once, not counted as a failure. False when the lease is not held."""
        return self._hand_back(lease_id, failed=False)

    def nack(self, lease_id: str) -> bool:
        """Hand a lease back as failed: counted like a lease that ran out (so a request
        that keeps failing is dead-lettered). False when the lease is not held."""
        return self._hand_back(lease_id, failed=True)

    def _hand_back(self, lease_id: str, failed: bool) -> bool:
        with unavailable_as_error(self._url):
            done: int = self._give_back(args=[self.prefix, lease_id, int(failed),
                                              self.max_redeliveries])
        return done != 0

    def release_worker(self, worker_id: str) -> int:
        """Hand back every lease ``worker_id`` holds (on SIGTERM); returns how many."""
        _check_id("worker id", worker_id)
        with unavailable_as_error(self._url):
            n: int = self._release_worker(args=[self.prefix, worker_id, 0,
                                                self.max_redeliveries])
        return n

    def renew(self, lease_id: str, lease_seconds: float) -> bool:
        """Extend a lease to ``lease_seconds`` from now (a long page); False if not held."""
        with unavailable_as_error(self._url):
            done: int = self._renew(args=[self.prefix, lease_id,
                                          max(1, round(lease_seconds * 1000))])
        return done == 1

    def reap(self, batch: int = 1000) -> tuple[int, int]:
        """Queue again the requests whose leases ran out, dead-lettering those that ran out
        more than ``max_redeliveries`` times; returns (requeued, dead-lettered)."""
        total_requeued = total_dead = 0
        while True:
            with unavailable_as_error(self._url):
                requeued, dead = self._reap(args=[self.prefix, self.max_redeliveries, batch])
            total_requeued += requeued
            total_dead += dead
            if requeued + dead < batch:
                return total_requeued, total_dead

    def outstanding(self, sweep_id: str) -> int:
        """Requests of ``sweep_id`` seeded or spawned and not yet acked or dead-lettered."""
        with unavailable_as_error(self._url):
            value = cast(bytes | None, self.client.hget(
                self._key(_check_id("sweep id", sweep_id), "counts"), "outstanding"))
        return int(value or 0)

    def counts(self, sweep_id: str) -> SweepCounts:
        """The sweep's whole accounting, read atomically."""
        _check_id("sweep id", sweep_id)
        with unavailable_as_error(self._url):
            pipe = self.client.pipeline(transaction=True)
            pipe.hgetall(self._key(sweep_id, "counts"))
            pipe.zcard(self._key(sweep_id, "queue"))
            pipe.scard(self._key(sweep_id, "leases"))
            raw, queued, leased = pipe.execute()
        c = {k.decode(): int(v) for k, v in raw.items()}
        fields = ("seeded", "spawned", "duplicates", "acked", "items", "redelivered",
                  "released", "dead", "outstanding")
        return SweepCounts(**{f: c.get(f, 0) for f in fields}, queued=queued, leased=leased)

    def items(self, sweep_id: str, start: int = 0, end: int = -1) -> list[dict[str, Any]]:
        """Items acks appended to the sweep, in ack order (``start``..``end`` inclusive)."""
        with unavailable_as_error(self._url):
            raw = cast(list[bytes], self.client.lrange(
                self._key(_check_id("sweep id", sweep_id), "items"), start, end))
        return [json.loads(text) for text in raw]

    def take_items(self, sweep_id: str, count: int = 500) -> list[dict[str, Any]]:
        """Remove and return up to ``count`` of the oldest items acks appended (the one
        consumer of a sweep's items: its coordinator)."""
        with unavailable_as_error(self._url):
            raw = cast(list[bytes] | None, self.client.lpop(
                self._key(_check_id("sweep id", sweep_id), "items"), count))
        return [json.loads(text) for text in raw or []]

    def set_job(self, sweep_id: str, job: dict[str, Any]) -> None:
        """Record what a worker needs to know to run ``sweep_id``'s requests (plain data);
        ``clear`` removes it with the rest."""
        with unavailable_as_error(self._url):
            self.client.set(self._key(_check_id("sweep id", sweep_id), "job"),
                            json.dumps(job, separators=(",", ":")))

    def job(self, sweep_id: str) -> dict[str, Any] | None:
        """What ``set_job`` recorded for ``sweep_id``; ``None`` once it is cleared."""
        with unavailable_as_error(self._url):
            raw = cast(bytes | None, self.client.get(
                self._key(_check_id("sweep id", sweep_id), "job")))
        return None if raw is None else cast(dict[str, Any], json.loads(raw))

    def dead_letters(self, sweep_id: str) -> dict[str, dict[str, Any]]:
        """Dead-lettered requests of the sweep by message id."""
        with unavailable_as_error(self._url):
            raw = cast(dict[bytes, bytes], self.client.hgetall(
                self._key(_check_id("sweep id", sweep_id), "dead")))
        return {k.decode(): codec.loads(v) for k, v in raw.items()}

    def sweeps(self) -> list[str]:
        """Every sweep the queue holds anything for."""
        with unavailable_as_error(self._url):
            members = cast(set[bytes], self.client.smembers(f"{self.prefix}sweep-ids"))
        return sorted(s.decode() for s in members)

    def clear(self, sweep_id: str) -> int:
        """Remove everything of ``sweep_id`` (queue, leases, counts, items, dead letters):
        for a stuck sweep. Returns how many requests were outstanding."""
        with unavailable_as_error(self._url):
            dropped: int = self._clear(args=[self.prefix, _check_id("sweep id", sweep_id)])
        return dropped
