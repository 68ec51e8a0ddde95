"""Each crawler's browser-context rotation, kept for its Playwright download handler.

The handler owns the browser, its contexts and their page slots; the rotation
(``crawler.browser.pages.ContextRotation``) decides which context a browser request opens
its page in and keeps pages for reuse. Everyone who needs it asks here by crawler: the
context middleware when it names a request's context, the handler when it hands a request
an idle page, the spider when it is done with a page, the health extension for its
counts. Nothing is set on the spider.
"""

from __future__ import annotations

import weakref

from scrapy.crawler import Crawler

from crawler.browser.pages import ContextRotation

_ROTATIONS: weakref.WeakKeyDictionary[Crawler, ContextRotation] = \
    weakref.WeakKeyDictionary()


def for_crawler(crawler: Crawler) -> ContextRotation:
    """The rotation of ``crawler``'s browser contexts, made on first use from its settings
    (``BRANDSWEEP_PAGES_PER_CONTEXT``, ``PLAYWRIGHT_MAX_PAGES_PER_CONTEXT``)."""
    rotation = _ROTATIONS.get(crawler)
    if rotation is None:
        s = crawler.settings
        # context names read as the marketplace's; each crawler has its own browser
        prefix = crawler.spider.name if crawler.spider is not None else \
            str(s.get("BOT_NAME") or "brandsweep")
        rotation = ContextRotation(prefix, s.getint("BRANDSWEEP_PAGES_PER_CONTEXT", 40),
                                   s.getint("PLAYWRIGHT_MAX_PAGES_PER_CONTEXT", 4))
        _ROTATIONS[crawler] = rotation
    return rotation


def existing(crawler: Crawler) -> ContextRotation | None:
    """``crawler``'s rotation if anything asked for one (a crawl that opened no browser
    page has none)."""
    return _ROTATIONS.get(crawler)
