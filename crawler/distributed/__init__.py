"""Distributed sweeps: many crawl workers sharing one Redis, one coordinator per sweep.

- ``connection``: open a Redis client that has answered a PING, or raise
  ``RedisUnavailable``.
- ``codec``: a Scrapy request as plain JSON data (and back).
- ``queue``: the leased request queue (lease, ack with children, reap, dead letters,
  exact per-sweep accounting of outstanding work).
- ``limiter``: global politeness per marketplace (concurrency across workers, delay
  between request starts).
- ``jobs``: queue ids and what a worker needs to run one marketplace of a sweep.
- ``worker``: the ``brandsweep worker`` process; ``coordinator``: what ``sweep --redis``
  adds to a sweep. Their spiders are ``spiders.distributed``.
"""
