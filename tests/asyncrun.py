"""Running a coroutine to its end from a test, whatever holds the main thread's event loop
(the session's sync Playwright does, once a browser test has run): in a thread of its
own, with a loop of its own."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any, TypeVar

_T = TypeVar("_T")


def run(coro: Coroutine[Any, Any, _T]) -> _T:
    """``asyncio.run(coro)`` in a worker thread; its result or its exception."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
