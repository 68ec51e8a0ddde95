"""Settling a browser search page: waiting for its cards (or a marker saying why there are
none), then scrolling or clicking "load more" until it has every batch of results."""

from __future__ import annotations

import logging
import time
from typing import Any

from crawler.extract.markers import wait_selectors
from crawler.profiles.model import MarketplaceProfile

logger = logging.getLogger(__name__)

# The scroll / "load more" loop runs inside the page, in one call: a round trip from the
# crawler per step (scroll, count, wait, count) costs more than the marketplace's own
# loading, and the crawler's event loop is shared by every page in flight.
_SETTLE_JS = """
async ({card, kind, button, end, maxPages, growMs}) => {
  const count = () => document.querySelectorAll(card).length;
  const ended = () => end !== null && document.querySelector(end) !== null;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  // a frame painted (or 250 ms, if the page is not being painted)
  const frame = () => new Promise((r) => { requestAnimationFrame(() => r()); setTimeout(r, 250); });
  const bottom = () => window.scrollTo(0, document.body.scrollHeight);
  // a loader that watches a sentinel fires when the sentinel comes into view, and not
  // again while it stays in view (short cards): go to the top, then back down
  const nudge = async () => { window.scrollTo(0, 0); await frame(); await frame(); bottom(); };
  let batches = 1;
  let stalled = false;
  while (batches < maxPages) {
    const before = count();
    if (kind === "infinite_scroll") {
      if (ended()) break;
      await nudge();
    } else if (kind === "load_more" && button !== null) {
      const b = document.querySelector(button);
      if (b === null) break;
      b.click();
    } else {
      break;
    }
    const started = performance.now();
    let waited = started;
    while (count() <= before && !ended() && performance.now() - started < growMs) {
      await sleep(20);
      if (kind === "infinite_scroll" && performance.now() - waited > 300) {
        await nudge();
        waited = performance.now();
      }
    }
    if (count() <= before) {
      stalled = !ended();
      break;
    }
    batches += 1;
  }
  return {batches, stalled};
}
"""


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
    markers = [card, *wait_selectors(profile)]
    try:
        await page.wait_for_selector(", ".join(markers), timeout=wait_ms)
    except Exception:
        # none of the profile's markers ever showed: hand the page over as it is, and
        # the spider reports it as a failed extraction (a layout change), not a timeout
        return {"batches": 0, "settled": 0}
    if await page.locator(card).count() == 0:
        return {"batches": 0}
    pagination = profile.search.pagination
    try:
        done = await page.evaluate(_SETTLE_JS, {
            "card": card, "kind": pagination.kind, "button": pagination.button,
            "end": pagination.end, "maxPages": max_pages, "growMs": grow_ms})
    except Exception:
        # the page navigated or was replaced (a block page written over the app) while
        # loading more: what it shows now is what the spider reads
        return {"batches": 1}
    return {"batches": int(done["batches"]), "stalled": int(bool(done["stalled"]))}

