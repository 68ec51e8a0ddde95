"""What brandsweep does inside a browser page, and how it keeps Chromium's memory bounded.

``settle`` runs as a scrapy-playwright page method: it waits for listings (or a "no
results" or blocked marker), then scrolls or clicks "load more" until the list stops
growing, the marketplace shows its end marker, or the page limit is reached.
``ContextRotation`` moves new pages to a fresh browser context every N pages and closes
the old one once its last page is closed: Chromium only gives memory back per context.
"""

from __future__ import annotations

import contextlib
from typing import Any

from crawler.profiles import MarketplaceProfile

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
    """Hands out browser-context names, a new one every ``pages_per_context`` pages."""

    def __init__(self, prefix: str, pages_per_context: int) -> None:
        self.prefix = prefix
        self.pages_per_context = max(1, pages_per_context)
        self.generation = 0
        self.handed_out = 0
        self.closed = 0

    @property
    def current(self) -> str:
        return f"{self.prefix}-{self.generation}"

    def next_name(self) -> str:
        if self.handed_out >= self.pages_per_context:
            self.generation += 1
            self.handed_out = 0
        self.handed_out += 1
        return self.current

    async def release(self, page: Any, name: str | None) -> None:
        """Close ``page``; close its context ``name`` too once it is retired and empty."""
        context = page.context
        if not page.is_closed():
            await page.close()
        if name is not None and name != self.current and not context.pages:
            with contextlib.suppress(Exception):  # another release may have closed it
                await context.close()
                self.closed += 1
