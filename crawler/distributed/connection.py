"""Connecting to the Redis that distributed sweeps share.

``connect`` (blocking client, for the queue) and ``connect_async`` (asyncio client, for the
limiter inside Scrapy's asyncio reactor) return a client only after the server answered a
PING; anything else is ``RedisUnavailable`` with the URL (password hidden) and what to do.
``unavailable_as_error`` turns a connection lost later into the same error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import redis
import redis.asyncio

from crawler.exceptions import RedisUnavailable

DEFAULT_URL = "redis://127.0.0.1:6379/0"
# what redis-py raises when the server is not there or stops answering
_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


def shown_url(url: str) -> str:
    """``url`` fit for a message: a password in it is replaced by ``***``."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        user = parts.username or ""
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
    except ValueError:
        return url


def connect(url: str = DEFAULT_URL, timeout: float = 5.0) -> redis.Redis:
    """A blocking client for ``url`` that has answered a PING.

    Raises ``RedisUnavailable`` when the URL is malformed or nothing answers in ``timeout``
    seconds.
    """
    try:
        client: redis.Redis = redis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout)
    except ValueError as exc:  # not a redis://, rediss:// or unix:// URL
        raise RedisUnavailable(shown_url(url), str(exc)) from None
    with unavailable_as_error(url):
        client.ping()
    return client


async def connect_async(url: str = DEFAULT_URL, timeout: float = 5.0) -> redis.asyncio.Redis:
    """An asyncio client for ``url`` that has answered a PING (see ``connect``)."""
    try:
        client: redis.asyncio.Redis = redis.asyncio.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout)
    except ValueError as exc:
        raise RedisUnavailable(shown_url(url), str(exc)) from None
    try:
        with unavailable_as_error(url):
            await client.ping()
    except RedisUnavailable:
        await client.aclose()
        raise
    return client


def url_of(client: redis.Redis | redis.asyncio.Redis) -> str:
    """The address ``client`` talks to, as a URL for messages (no password)."""
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix://{kwargs['path']}"
    return f"redis://{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/" \
           f"{kwargs.get('db', 0)}"


@contextmanager
def unavailable_as_error(url: str) -> Iterator[None]:
    """Turn redis-py's "cannot reach the server" errors inside the block into
    ``RedisUnavailable`` naming ``url``."""
    try:
        yield
    except redis.exceptions.AuthenticationError as exc:
        raise RedisUnavailable(shown_url(url), f"authentication failed: {exc}") from None
    except _DOWN as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RedisUnavailable(shown_url(url), reason) from None
