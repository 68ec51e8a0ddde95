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

from crawler.distributed import codec
from crawler.distributed.connection import unavailable_as_error, url_of

PREFIX = "brandsweep:"
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")

# Shared by every script: ARGV[1] is always the key prefix.
_LIB = r"""
local P = ARGV[1]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function base(sweep) return P .. 'sweep:' .. sweep .. ':' end
local function activate(sweep)
  redis.call('ZADD', P .. 'sweeps', 'NX', redis.call('INCR', P .. 'tick'), sweep)
end
local function count(sweep, field, n)
  redis.call('HINCRBY', base(sweep) .. 'counts', field, n)
end
-- 1 if enqueued, 0 if its fingerprint was seen before in this sweep
local function enqueue(sweep, body, priority, fp, kind)
  local b = base(sweep)
  redis.call('SADD', P .. 'sweep-ids', sweep)
  if fp ~= '' and redis.call('SADD', b .. 'seen', fp) == 0 then
    count(sweep, 'duplicates', 1)
    return 0
  end
  local msg = string.format('%012d', redis.call('INCR', b .. 'seq'))
  redis.call('HSET', b .. 'requests', msg, body)
  redis.call('ZADD', b .. 'queue', -tonumber(priority), msg)
  count(sweep, kind, 1)
  count(sweep, 'outstanding', 1)
  activate(sweep)
  return 1
end
local function lease_info(lease)
  local flat = redis.call('HGETALL', P .. 'lease:' .. lease)
  if #flat == 0 then return nil end
  local h = {}
  for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
  return h
end
local function forget_lease(lease, h)
  redis.call('DEL', P .. 'lease:' .. lease)
  redis.call('ZREM', P .. 'leases', lease)
  redis.call('SREM', base(h.sweep) .. 'leases', lease)
  redis.call('SREM', P .. 'worker:' .. h.worker .. ':leases', lease)
end
-- a lease handed back or run out: back to the queue, or dead-lettered when it failed
-- more than max times; returns 1 requeued, 2 dead
local function give_back(lease, h, failed, max)
  forget_lease(lease, h)
  local b = base(h.sweep)
  if failed then
    local n = redis.call('HINCRBY', b .. 'expired', h.msg, 1)
    if n > max then
      redis.call('HSET', b .. 'dead', h.msg, redis.call('HGET', b .. 'requests', h.msg))
      redis.call('HDEL', b .. 'requests', h.msg)
      redis.call('HDEL', b .. 'expired', h.msg)
      count(h.sweep, 'dead', 1)
      count(h.sweep, 'outstanding', -1)
      return 2
    end
    count(h.sweep, 'redelivered', 1)
  else
    count(h.sweep, 'released', 1)
  end
  redis.call('ZADD', b .. 'queue', h.score, h.msg)
  activate(h.sweep)
  return 1
end
"""

# ARGV: prefix, sweep, then (body, priority, fingerprint) per request
_PUSH = _LIB + r"""
local added = {}
for i = 3, #ARGV, 3 do
  added[#added + 1] = enqueue(ARGV[2], ARGV[i], ARGV[i + 1], ARGV[i + 2], 'seeded')
end
return added
"""

# ARGV: prefix, worker, lease id, lease ms, only this sweep ('' = any)
_LEASE = _LIB + r"""
local worker, lease, ms, only = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local sweeps
if only ~= '' then sweeps = {only} else sweeps = redis.call('ZRANGE', P .. 'sweeps', 0, -1) end
for _, sweep in ipairs(sweeps) do
  local b = base(sweep)
  local top = redis.call('ZRANGE', b .. 'queue', 0, 0, 'WITHSCORES')
  if top[1] then
    local msg, score = top[1], top[2]
    redis.call('ZREM', b .. 'queue', msg)
    redis.call('HSET', P .. 'lease:' .. lease, 'sweep', sweep, 'msg', msg, 'worker', worker,
               'score', score)
    redis.call('ZADD', P .. 'leases', now_ms() + ms, lease)
    redis.call('SADD', b .. 'leases', lease)
    redis.call('SADD', P .. 'worker:' .. worker .. ':leases', lease)
    -- to the back of the round robin, so one big sweep does not starve the others
    redis.call('ZADD', P .. 'sweeps', redis.call('INCR', P .. 'tick'), sweep)
    local failed = tonumber(redis.call('HGET', b .. 'expired', msg) or '0')
    return {sweep, redis.call('HGET', b .. 'requests', msg), failed}
  end
  redis.call('ZREM', P .. 'sweeps', sweep)
end
return false
"""

# ARGV: prefix, lease id, number of children, (body, priority, fingerprint) per child,
# then item JSON texts. Returns -1 for a lease that is not held (ran out, or cleared).
_ACK = _LIB + r"""
local lease, n = ARGV[2], tonumber(ARGV[3])
local h = lease_info(lease)
if not h then return -1 end
forget_lease(lease, h)
local b = base(h.sweep)
redis.call('HDEL', b .. 'requests', h.msg)
redis.call('HDEL', b .. 'expired', h.msg)
count(h.sweep, 'acked', 1)
count(h.sweep, 'outstanding', -1)
local added = 0
local last = 3 + 3 * n
for i = 4, last, 3 do
  added = added + enqueue(h.sweep, ARGV[i], ARGV[i + 1], ARGV[i + 2], 'spawned')
end
for i = last + 1, #ARGV do
  redis.call('RPUSH', b .. 'items', ARGV[i])
  count(h.sweep, 'items', 1)
end
return added
"""

# ARGV: prefix, lease id, failed (1/0), max redeliveries. 0 when the lease is not held.
_GIVE_BACK = _LIB + r"""
local h = lease_info(ARGV[2])
if not h then return 0 end
return give_back(ARGV[2], h, ARGV[3] == '1', tonumber(ARGV[4]))
"""

# ARGV: prefix, worker, failed (1/0), max redeliveries. Returns how many were handed back.
_RELEASE_WORKER = _LIB + r"""
local key = P .. 'worker:' .. ARGV[2] .. ':leases'
local n = 0
for _, lease in ipairs(redis.call('SMEMBERS', key)) do
  local h = lease_info(lease)
  if h then give_back(lease, h, ARGV[3] == '1', tonumber(ARGV[4])); n = n + 1 end
end
redis.call('DEL', key)
return n
"""

# ARGV: prefix, max redeliveries, batch. Returns {requeued, dead}.
_REAP = _LIB + r"""
local max, batch = tonumber(ARGV[2]), tonumber(ARGV[3])
local requeued, dead = 0, 0
for _, lease in ipairs(redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', now_ms(),
                                  'LIMIT', 0, batch)) do
  local h = lease_info(lease)
  if h then
    if give_back(lease, h, true, max) == 2 then dead = dead + 1 else requeued = requeued + 1 end
  else
    redis.call('ZREM', P .. 'leases', lease)
  end
end
return {requeued, dead}
"""

# ARGV: prefix, lease id, lease ms. 1 if renewed, 0 if the lease is not held.
_RENEW = _LIB + r"""
if redis.call('EXISTS', P .. 'lease:' .. ARGV[2]) == 0 then return 0 end
redis.call('ZADD', P .. 'leases', now_ms() + tonumber(ARGV[3]), ARGV[2])
return 1
"""

# ARGV: prefix, sweep. Returns the outstanding count it dropped.
_CLEAR = _LIB + r"""
local sweep = ARGV[2]
local b = base(sweep)
local dropped = tonumber(redis.call('HGET', b .. 'counts', 'outstanding') or '0')
for _, lease in ipairs(redis.call('SMEMBERS', b .. 'leases')) do
  local h = lease_info(lease)
  if h then forget_lease(lease, h) else redis.call('ZREM', P .. 'leases', lease) end
end
for _, suffix in ipairs({'queue', 'requests', 'expired', 'leases', 'seen', 'dead', 'items',
                         'counts', 'seq'}) do
  redis.call('DEL', b .. suffix)
end
redis.call('ZREM', P .. 'sweeps', sweep)
redis.call('SREM', P .. 'sweep-ids', sweep)
return dropped
"""


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
        self._push = client.register_script(_PUSH)
        self._lease = client.register_script(_LEASE)
        self._ack = client.register_script(_ACK)
        self._give_back = client.register_script(_GIVE_BACK)
        self._release_worker = client.register_script(_RELEASE_WORKER)
        self._reap = client.register_script(_REAP)
        self._renew = client.register_script(_RENEW)
        self._clear = client.register_script(_CLEAR)

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
