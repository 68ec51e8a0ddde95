"""Groundwork for distributed sweeps: many crawl workers sharing one Redis.

- ``connection``: open a Redis client that has answered a PING, or raise
  ``RedisUnavailable``.
- ``codec``: a Scrapy request as plain JSON data (and back).
- ``queue``: the leased request queue (lease, ack with children, reap, dead letters,
  exact per-sweep accounting of outstanding work).
- ``limiter``: global politeness per marketplace (concurrency across workers, delay
  between request starts).

The worker and the coordinator that use them are not written yet.
"""
