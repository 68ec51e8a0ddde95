"""scrapy-playwright's download handler, started on first use instead of at engine start.

A profile in ``auto`` mode needs the handler installed in case a page turns out to need a
browser, but most such marketplaces never do; starting Playwright's driver up front cost
each of them most of a second and a process.
"""

from __future__ import annotations

import asyncio
from typing import Any

from scrapy import Request
from scrapy.http import Response
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler
from twisted.internet.defer import Deferred, succeed


class LazyPlaywrightDownloadHandler(ScrapyPlaywrightDownloadHandler):  # type: ignore[misc]
    """Starts Playwright when the first request with ``meta["playwright"]`` arrives."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._started: asyncio.Task[None] | None = None

    # scrapy-playwright connects one of these to engine_started, depending on Scrapy's API
    def _engine_started(self) -> Deferred[None]:
        return succeed(None)

    async def _maybe_launch_in_thread(self) -> None:
        return None

    async def _download_request(self, request: Request, spider: Any = None) -> Response:
        if self._started is None:
            self._started = asyncio.ensure_future(self._launch())
        await asyncio.shield(self._started)
        response: Response = await super()._download_request(request, spider)
        return response
