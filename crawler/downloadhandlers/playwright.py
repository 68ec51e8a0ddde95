"""scrapy-playwright's download handler, started on first use instead of at engine start,
and handing each browser request an idle page of its context when there is one.

A profile in ``auto`` mode needs the handler installed in case a page turns out to need a
browser, but most such marketplaces never do; starting Playwright's driver up front cost
each of them most of a second and a process.

It also keeps the page clock of ``crawler.downloadhandlers.http`` (a browser page's
attempts stay within ``BRANDSWEEP_PAGE_DEADLINE`` too), and gives the pages' own requests
to ``crawler.browser.pages.PageRequestFilter``: a navigation the URL policy refuses (a
redirect or script sending the page to another host) is aborted, and the request fails
with the policy's reason.
"""

from __future__ import annotations

import asyncio
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler
from twisted.internet.defer import Deferred, succeed

from crawler.browser.pages import PageRequestFilter
from crawler.downloadermiddlewares.urlpolicy import RefusedUrl
from crawler.downloadhandlers.http import begin_attempt, crawl_ends, end_attempt, page_deadline


class LazyPlaywrightDownloadHandler(ScrapyPlaywrightDownloadHandler):  # type: ignore[misc]
    """Starts Playwright when the first request with ``meta["playwright"]`` arrives."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._started: asyncio.Task[None] | None = None
        self.deadline = page_deadline(crawler.settings)
        self.timeout = crawler.settings.getfloat("DOWNLOAD_TIMEOUT", 180)
        self.ends = crawl_ends(crawler.settings)
        self.page_filter: PageRequestFilter | None = None
        base = crawler.settings.get("BRANDSWEEP_BASE_URL")
        if base:
            from crawler import urls

            policy = urls.UrlPolicy.from_base(base, crawler.settings.getlist(
                "BRANDSWEEP_ALLOWED_HOSTS"))
            self.page_filter = PageRequestFilter(policy, getattr(self, "abort_request", None),
                                                 crawler.stats)
            self.abort_request = self.page_filter

    async def download_request(self, request: Request) -> Response:
        started = begin_attempt(request, self.deadline, self.timeout, self.ends)
        try:
            response: Response = await super().download_request(request)
        except Exception as exc:
            why = self._refused(request)
            if why is not None:
                raise RefusedUrl(*why) from exc
            raise
        finally:
            end_attempt(request, started)
        why = self._refused(request)
        if why is not None:
            # the page tried to leave for a refused URL: what it shows is not the search
            raise RefusedUrl(*why)
        return response

    def _refused(self, request: Request) -> tuple[str, str] | None:
        page = request.meta.get("playwright_page")
        if self.page_filter is None or page is None:
            return None
        return self.page_filter.refused(page)

    # scrapy-playwright connects one of these to engine_started, depending on Scrapy's API
    def _engine_started(self) -> Deferred[None]:
        return succeed(None)

    async def _maybe_launch_in_thread(self) -> None:
        return None

    async def _download_request(self, request: Request, spider: Any = None) -> Response:
        if self._started is None:
            self._started = asyncio.ensure_future(self._launch())
        await asyncio.shield(self._started)
        # an idle page of the request's context, taken now that the request is being
        # downloaded: taken earlier (when it was queued), a request waiting for a new page
        # could wait forever for a context's page slots held by idle pages
        rotation = getattr(spider or self._crawler.spider, "contexts", None)
        name = request.meta.get("playwright_context")
        if rotation is None or name is None:
            return await super()._download_request(request, spider)  # type: ignore[no-any-return]
        rotation.slots_full, rotation.slot_wanted = self._slots_full, self._slot_wanted
        page = await rotation.take(name)
        if page is not None:
            request.meta["playwright_page"] = page
        response: Response = await super()._download_request(request, spider)
        return response

    def _slots_full(self, name: str) -> bool:
        wrapper = self.context_wrappers.get(name)
        return wrapper is not None and bool(wrapper.semaphore.locked())

    def _slot_wanted(self, name: str) -> bool:
        wrapper = self.context_wrappers.get(name)
        # asyncio.Semaphore keeps its waiting acquirers in ``_waiters`` (3.8 to 3.14)
        waiters = getattr(wrapper.semaphore, "_waiters", None) if wrapper else None
        return any(not w.done() for w in waiters or ())
