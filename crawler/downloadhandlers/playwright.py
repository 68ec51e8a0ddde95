"""scrapy-playwright's download handler, with Playwright started on first use instead of at
engine start, and handing each browser request an idle page of its context when there is
one.

A profile in ``auto`` mode needs the handler installed in case a page turns out to need a
browser, but most such marketplaces never do; starting Playwright's driver up front cost
each of them most of a second and a process. ``LazyBrowserProvider`` (scrapy-playwright's
public ``PLAYWRIGHT_BROWSER_PROVIDER``) starts it when the first browser is launched.

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
from scrapy_playwright.provider import PlaywrightBrowserProvider

from crawler.browser.pages import PageRequestFilter
from crawler.downloadermiddlewares.urlpolicy import RefusedUrl
from crawler.downloadhandlers import rotation
from crawler.downloadhandlers.http import begin_attempt, crawl_ends, end_attempt, page_deadline

PROVIDER = "crawler.downloadhandlers.playwright.LazyBrowserProvider"


class LazyBrowserProvider(PlaywrightBrowserProvider):  # type: ignore[misc]
    """Starts Playwright's driver when the first browser (or persistent context) is
    launched, not when the handler starts."""

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self._starting: asyncio.Lock | None = None
        self.started = False

    async def start(self) -> None:
        """At engine start: nothing yet."""

    async def _start(self) -> None:
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if not self.started:
                await super().start()
                self.started = True

    async def launch_browser(self) -> Any:
        await self._start()
        return await super().launch_browser()

    async def launch_persistent_context(self, context_kwargs: dict[str, Any]) -> Any:
        await self._start()
        return await super().launch_persistent_context(context_kwargs)


class LazyPlaywrightDownloadHandler(ScrapyPlaywrightDownloadHandler):  # type: ignore[misc]
    """scrapy-playwright's handler (``PLAYWRIGHT_BROWSER_PROVIDER`` is ``PROVIDER``), with
    the page clock, the URL policy, and the crawler's context rotation."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.deadline = page_deadline(crawler.settings)
        self.timeout = crawler.settings.getfloat("DOWNLOAD_TIMEOUT", 180)
        self.ends = crawl_ends(crawler.settings)
        self.crawler = crawler
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
            if request.meta.get("playwright"):
                await self._idle_page(request)
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

    async def _idle_page(self, request: Request) -> None:
        """An idle page of the request's context, taken now that the request is being
        downloaded: taken earlier (when it was queued), a request waiting for a new page
        could wait forever for a context's page slots held by idle pages."""
        name = request.meta.get("playwright_context")
        if name is None:
            return
        contexts = rotation.for_crawler(self.crawler)
        contexts.slots_full, contexts.slot_wanted = self.slots_full, self.slot_wanted
        page = await contexts.take(name)
        if page is not None:
            request.meta["playwright_page"] = page

    def _refused(self, request: Request) -> tuple[str, str] | None:
        page = request.meta.get("playwright_page")
        if self.page_filter is None or page is None:
            return None
        return self.page_filter.refused(page)

    # scrapy-playwright offers no public view of a context's page slots: these read its
    # ``context_wrappers`` (name -> wrapper with the slots' ``semaphore``), a member kept
    # exactly by the pin in pyproject.toml and checked by test_downloadhandlers_playwright
    def slots_full(self, name: str) -> bool:
        """Whether every page slot of context ``name`` is taken."""
        wrapper = self.context_wrappers.get(name)
        return wrapper is not None and bool(wrapper.semaphore.locked())

    def slot_wanted(self, name: str) -> bool:
        """Whether a request is waiting for a page slot of context ``name``."""
        wrapper = self.context_wrappers.get(name)
        # asyncio.Semaphore keeps its waiting acquirers in ``_waiters`` (3.8 to 3.14);
        # nothing public says whether anyone waits (``locked()`` is also true when all
        # slots are merely taken)
        waiters = getattr(wrapper.semaphore, "_waiters", None) if wrapper else None
        return any(not w.done() for w in waiters or ())
