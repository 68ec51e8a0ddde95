"""The context middleware names each browser request's context from its crawler's
rotation, at download time; crawlers never share a rotation."""

from __future__ import annotations

import pytest
from scrapy import Request
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from crawler.downloadermiddlewares.contexts import BrowserContextMiddleware
from crawler.downloadhandlers import rotation
from crawler.settings import DEFAULTS
from tests import asyncrun

BROWSER = DEFAULTS | {"PLAYWRIGHT_LAUNCH_OPTIONS": {"headless": True},
                      "BRANDSWEEP_PAGES_PER_CONTEXT": 2}


def test_a_crawl_without_a_browser_has_no_context_middleware() -> None:
    with pytest.raises(NotConfigured):
        BrowserContextMiddleware.from_crawler(get_crawler(settings_dict=DEFAULTS))


def test_contexts_rotate_per_crawler_and_retries_drop_their_old_page() -> None:
    async def run() -> tuple[list[str | None], list[str], bool, object]:
        one, two = get_crawler(settings_dict=BROWSER), get_crawler(settings_dict=BROWSER)
        mw_one = BrowserContextMiddleware.from_crawler(one)
        mw_two = BrowserContextMiddleware.from_crawler(two)
        names = []
        for _ in range(5):
            request = Request("http://m.test/s", meta={"playwright": True,
                                                       "playwright_page": "an old page"})
            mw_one.process_request(request)
            names.append(request.meta.get("playwright_context"))
            dropped = "playwright_page" not in request.meta
        other = Request("http://m.test/s", meta={"playwright": True})
        mw_two.process_request(other)
        plain = Request("http://m.test/p")
        mw_one.process_request(plain)
        return names, [other.meta["playwright_context"]], dropped, \
            (rotation.for_crawler(one) is not rotation.for_crawler(two),
             "playwright_context" in plain.meta)

    names, other, dropped, (separate, plain_named) = asyncrun.run(run())
    # named after the spider; a crawler without one yet, after BOT_NAME
    assert names[0] == "brandsweep-0"
    # BRANDSWEEP_PAGES_PER_CONTEXT pages per context, then a fresh one
    assert [n.rsplit("-", 1)[1] for n in names if n] == ["0", "0", "1", "1", "2"]
    assert other[0].endswith("-0") and separate and dropped and not plain_named
