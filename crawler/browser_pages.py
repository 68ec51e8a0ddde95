"""What brandsweep does inside a browser page, and how it keeps Chromium's memory bounded.

``settle`` runs as a scrapy-playwright page method: it waits for listings (or a "no
results" or blocked marker), then scrolls or clicks "load more" until the list stops
growing, the marketplace shows its end marker, or the page limit is reached.
``ContextRotation`` moves new pages to a fresh browser context every N pages and closes
the old one once its last page is closed: Chromium only gives memory back per context.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from crawler.profiles import MarketplaceProfile

logger = logging.getLogger(__name__)
HEAVY = frozenset({"image", "font", "media"})


def abort_heavy_request(request: Any) -> bool:
    """PLAYWRIGHT_ABORT_REQUEST: skip images, fonts and media; listings are text."""
    return bool(request.resource_type in HEAVY)


def _grew(card: str, before: int, end: str | None) -> str:
    done = f" || document.querySelector({end!r}) !== null" if end else ""
    return f"() => document.querySelectorAll({card!r}).length > {before}{done}"


async def settle(page: Any, profile: MarketplaceProfile, max_pages: int,
                 wait_ms: int = 15_000, grow_ms: int = 5_000) -> dict[str, int]:
    """Bring a search page to its full list of listings; returns what it did."""
    started = time.monotonic()
    result = await _settle(page, profile, max_pages, wait_ms, grow_ms)
    logger.debug("settled %s in %.2fs: %s", page.url, time.monotonic() - started, result)
    return result


async def _settle(page: Any, profile: MarketplaceProfile, max_pages: int, wait_ms: int,
                  grow_ms: int) -> dict[str, int]:
    card = profile.listing.card
    markers = [card, *filter(None, [profile.listing.no_results]),
               *profile.blocked.selectors]
    try:
        await page.wait_for_selector(", ".join(markers), timeout=wait_ms)
    except Exception:
        # none of the profile's markers ever showed: hand the page over as it is, and
        # the spider reports it as a failed extraction (a layout change), not a timeout
        return {"batches": 0, "settled": 0}
    pagination = profile.search.pagination
    batches = 1
    if await page.locator(card).count() == 0:
        return {"batches": 0}
    while batches < max_pages:
        before = await page.locator(card).count()
        if pagination.kind == "infinite_scroll":
            if pagination.end and await page.locator(pagination.end).count():
                break
            await page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        elif pagination.kind == "load_more" and pagination.button:
            button = page.locator(pagination.button)
            if not await button.count():
                break
            await button.first.click()
        else:
            break
        try:
            await page.wait_for_function(_grew(card, before, pagination.end), timeout=grow_ms)
        except Exception:
            break
        if await page.locator(card).count() > before:
            batches += 1
    return {"batches": batches}


class ContextRotation:
    """Hands out browser-context names, a new one every ``pages_per_context`` pages, and
    closes each retired context as soon as it has no pages left.

    Names are handed out when a request is downloaded (see
    ``crawler.downloadermiddlewares.contexts``), never when it is created: a request that
    waited in the queue, or a retry, must not bring a retired context back.
    """

    def __init__(self, prefix: str, pages_per_context: int) -> None:
        self.prefix = prefix
        self.pages_per_context = max(1, pages_per_context)
        self.generation = 0
        self.handed_out = 0
        self.closed = 0
        self.contexts: dict[str, Any] = {}  # name -> Playwright context, once seen
        self.open_pages: dict[str, int] = {}
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

    async def release(self, page: Any, name: str | None) -> None:
        """Close ``page``; close its context too once it is retired and empty."""
        if name is not None:
            if page is not None:
                self.contexts.setdefault(name, page.context)
            self.open_pages[name] = max(0, self.open_pages.get(name, 0) - 1)
        if page is not None and not page.is_closed():
            await page.close()
        await self._close_retired()

    async def _close_retired(self) -> None:
        for name, context in list(self.contexts.items()):
            if name == self.current or self.open_pages.get(name, 0) > 0:
                continue
            del self.contexts[name]
            with contextlib.suppress(Exception):  # closed already, or the browser went
                await context.close()
                self.closed += 1
