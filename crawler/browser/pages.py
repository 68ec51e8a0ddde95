"""What brandsweep does to every browser page, and how it keeps Chromium's memory bounded.

``guard_page`` runs before each browser request: the page's own navigations pass the URL
policy hop by hop, and WebSockets and popups are refused. ``PageRequestFilter`` decides
which of a page's own requests the browser may make. ``ContextRotation`` moves new pages
to a fresh browser context every N pages and closes the old one once its last page is
closed: Chromium only gives memory back per context. (Settling a search page, scrolling
until every batch of results is in, is ``crawler.browser.settle``.)
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import weakref
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

from crawler import urls

logger = logging.getLogger(__name__)
HEAVY = frozenset({"image", "font", "media"})


# the context every browser page of a sweep opens in: no service worker may be registered
# (one runs outside the page, where no route of ours sees its requests)
CONTEXT_KWARGS: dict[str, Any] = {"service_workers": "block"}
# scrapy-playwright's page init callback, by name (request meta stays plain data)
GUARD_PAGE = "crawler.browser.pages.guard_page"
# run before any script of the page: no popups (their requests are not the page's)
_NO_POPUPS = "window.open = function () { return null; };"


async def guard_page(page: Any, request: Any = None) -> None:
    """Before each browser request: the page's own navigations go through the URL policy
    hop by hop (``meta["brandsweep_policy"]``); and once per page, every WebSocket (a
    search page needs none, and Playwright's request routes never see them) and every
    popup a script opens are refused."""
    policy = request.meta.get("brandsweep_policy") if request is not None else None
    if policy:
        await _route_navigations(page, request, urls.UrlPolicy.from_base(*policy))
    if getattr(page, "_brandsweep_guarded", False):
        return
    page._brandsweep_guarded = True

    async def refuse(ws: Any) -> None:
        logger.debug("refused a WebSocket to %s", ws.url)
        await ws.close(code=1008, reason="refused by brandsweep")

    await page.route_web_socket(lambda url: True, refuse)
    await page.add_init_script(_NO_POPUPS)

    async def close(popup: Any) -> None:
        await popup.close()

    page.on("popup", close)


def _every(url: str) -> bool:
    return True


async def _route_navigations(page: Any, scrapy_request: Any, policy: urls.UrlPolicy) -> None:
    """Fetch the page's main-frame navigations here, redirects not followed, so a redirect
    to a URL the policy refuses is refused before Chromium asks for it (Chromium follows
    redirects without consulting any route). Registered after scrapy-playwright's route,
    so it runs first; a redirect the policy allows falls back to scrapy-playwright's."""
    old = getattr(page, "_brandsweep_route", None)
    if old is not None:
        await page.unroute(_every, old)
    headers = {k.decode("latin-1").lower(): v[0].decode("latin-1")
               for k, v in scrapy_request.headers.items() if v}

    async def navigation(route: Any, request: Any) -> None:
        if not request.is_navigation_request() or request.frame.parent_frame is not None:
            await route.fallback()
            return
        why = policy.refusal(request.url)
        if why is None:
            answer = await route.fetch(max_redirects=0,
                                       headers={**await request.all_headers(), **headers})
            location = answer.headers.get("location")
            if not (300 <= answer.status < 400 and location):
                await route.fulfill(response=answer)
                return
            target = urljoin(request.url, location)
            why = policy.refusal(target)
            if why is None:
                await route.fallback()  # Chromium follows it; the final URL is checked too
                return
            request_url = target
        else:
            request_url = request.url
        page._brandsweep_refused = (request_url, why)
        await route.abort()

    page._brandsweep_route = navigation
    await page.route(_every, navigation)


def abort_heavy_request(request: Any) -> bool:
    """PLAYWRIGHT_ABORT_REQUEST: skip images, fonts and media; listings are text."""
    return bool(request.resource_type in HEAVY)


class PageRequestFilter:
    """scrapy-playwright's ``abort_request`` for brandsweep's pages (the download handler
    installs it around ``PLAYWRIGHT_ABORT_REQUEST``): a navigation (the page's own
    document, a redirect, a frame) must be one the profile's URL policy allows; any other
    request the page makes may go anywhere a marketplace page may load from, except a
    link-local or metadata address, or a loopback or private one when the marketplace
    itself is not on one. Then ``PLAYWRIGHT_ABORT_REQUEST`` has its say."""

    def __init__(self, policy: urls.UrlPolicy, abort_request: Callable[[Any], Any] | None,
                 stats: Any = None) -> None:
        self.policy = policy
        self.abort_request = abort_request
        self.stats = stats
        # why a page's main-frame navigation was aborted, so its failure can say so
        self._refusals: weakref.WeakKeyDictionary[Any, tuple[str, str]] = \
            weakref.WeakKeyDictionary()

    async def __call__(self, request: Any) -> bool:
        why = self.refusal(request)
        if why is not None:
            if self.stats is not None:
                self.stats.inc_value("brandsweep/browser_requests_refused")
            if request.is_navigation_request():
                with contextlib.suppress(Exception):  # a worker's request has no frame
                    frame = request.frame
                    if frame.parent_frame is None:
                        self._refusals[frame.page] = (request.url, why)
            return True
        if self.abort_request is None:
            return False
        verdict = self.abort_request(request)
        return bool(await verdict if inspect.isawaitable(verdict) else verdict)

    def refusal(self, request: Any) -> str | None:
        """Why the page may not make ``request``, or None."""
        url = str(request.url)
        if request.is_navigation_request():
            return self.policy.refusal(url)
        if not url.startswith(("http://", "https://")):
            return None  # data:, blob: and the like never leave the browser
        host = urlsplit(url).hostname or ""
        kind = urls.host_class(host)
        if kind == "forbidden":
            return f"host {host!r} is a link-local, metadata or reserved address"
        if kind == "local" and not self.policy.local_ok:
            return f"host {host!r} is a loopback or private address"
        return None

    def refused(self, page: Any) -> tuple[str, str] | None:
        """The (URL, reason) of ``page``'s last refused navigation, once."""
        found = getattr(page, "_brandsweep_refused", None)  # set by guard_page's route
        if found is not None:
            page._brandsweep_refused = None
            return found  # type: ignore[no-any-return]
        try:
            return self._refusals.pop(page, None)
        except TypeError:
            return None


class ContextRotation:
    """Hands out browser-context names, a new one every ``pages_per_context`` pages, and
    closes each retired context as soon as it has no pages left.

    Names are handed out when a request is downloaded (see
    ``crawler.downloadermiddlewares.contexts``), never when it is created: a request that
    waited in the queue, or a retry, must not bring a retired context back.
    """

    def __init__(self, prefix: str, pages_per_context: int, page_slots: int = 4) -> None:
        self.prefix = prefix
        self.pages_per_context = max(1, pages_per_context)
        # scrapy-playwright's PLAYWRIGHT_MAX_PAGES_PER_CONTEXT: an idle page holds a slot
        self.page_slots = max(1, page_slots)
        self.generation = 0
        self.handed_out = 0
        self.closed = 0
        self.reused = 0
        self.contexts: dict[str, Any] = {}  # name -> Playwright context, once seen
        self.open_pages: dict[str, int] = {}
        # pages done with, kept open for the next request of the same context: a new page
        # costs Chromium a renderer process (~0.25 s of CPU here); navigating one does not
        self.idle: dict[str, list[Any]] = {}
        # set by the download handler, which owns the page slots: are all of a context's
        # slots taken, and is a request waiting for one
        self.slots_full: Callable[[str], bool] = lambda name: False
        self.slot_wanted: Callable[[str], bool] = lambda name: False
        self._waiters: list[asyncio.Future[None]] = []  # requests waiting for a page
        self._closing: asyncio.Future[None] | None = None  # keeps the task referenced

    @property
    def current(self) -> str:
        return f"{self.prefix}-{self.generation}"

    def next_name(self) -> str:
        if self.handed_out >= self.pages_per_context:
            self.generation += 1
            self.handed_out = 0
            # a retired context whose pages are all closed already would otherwise stay
            # open forever, holding memory and one of scrapy-playwright's context slots
            self._closing = asyncio.ensure_future(self._close_retired())
        self.handed_out += 1
        name = self.current
        self.open_pages[name] = self.open_pages.get(name, 0) + 1
        return name

    async def take(self, name: str) -> Any:
        """An idle page of context ``name`` for the next request to navigate, or None when
        it should open one (the download handler then does). While all the context's page
        slots are taken, waits for a page to be released rather than for one to close."""
        while True:
            pages = self.idle.get(name, [])
            while pages:
                page = pages.pop()
                if not page.is_closed():
                    self.reused += 1
                    return page
            if not self.slots_full(name):
                return None
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            # the timeout re-checks the slots: a page the download handler closed after
            # an error frees its slot without passing through ``release``
            await asyncio.wait({waiter}, timeout=0.25)

    async def release(self, page: Any, name: str | None, reusable: bool = True) -> None:
        """Done with ``page``: keep it for the next request of its context while that
        context is current, else close it; close a retired context once it is empty."""
        if name is not None:
            if page is not None:
                self.contexts.setdefault(name, page.context)
            self.open_pages[name] = max(0, self.open_pages.get(name, 0) - 1)
        if page is not None and not page.is_closed():
            idle = self.idle.setdefault(name, []) if name is not None else []
            # never kept while a request waits for a page slot, which only a closed page
            # frees (two requests may both have seen a slot free, or no context yet)
            if (reusable and name == self.current and not self.slot_wanted(name)
                    and len(idle) < self.page_slots):
                idle.append(page)
            else:
                await page.close()
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        await self._close_retired()

    async def _close_retired(self) -> None:
        for name, context in list(self.contexts.items()):
            if name == self.current or self.open_pages.get(name, 0) > 0:
                continue
            del self.contexts[name]
            self.idle.pop(name, None)  # closing the context closes them
            with contextlib.suppress(Exception):  # closed already, or the browser went
                await context.close()
                self.closed += 1
