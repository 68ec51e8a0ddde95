"""The re-check spider: its requests are plain data, a refused URL is never requested,
and a real fixture listing page reads as still live."""

from __future__ import annotations

import urllib.request

import pytest
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler.distributed import codec
from crawler.profiles.loading import load_profiles
from crawler.settings import DEFAULTS
from fixtures.catalogue import Catalogue
from fixtures.server import FixtureServer
from spiders.verify import VerifySpider, read
from tests import asyncrun


def test_a_live_listing_reads_still_live_and_requests_are_plain(
        fixture_server: FixtureServer, catalogue: Catalogue,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRANDSWEEP_FIXTURE_URL", fixture_server.url)
    profile = load_profiles()["bazaar"]
    url = str(next(iter(catalogue.truth(fixture_server.url, "bazaar")))["url"])
    crawler = get_crawler(VerifySpider, DEFAULTS)
    spider = VerifySpider.from_crawler(crawler, profile=profile,
                                       targets=[(1, url), (2, "http://elsewhere.invalid/x")])

    async def requests() -> list[object]:
        return [r async for r in spider.start()]

    (request,) = asyncrun.run(requests())
    assert spider.verdicts[2][0] == "refused"  # never requested
    assert codec.loads(codec.dumps(request.to_dict(spider=spider)))["meta"] == {"case": 1}
    with urllib.request.urlopen(url, timeout=30) as answer:
        body, status = answer.read(), answer.status
    response = HtmlResponse(url, status=status, body=body, request=request,
                            headers={"Content-Type": "text/html; charset=utf-8"})
    spider.parse(response)
    assert spider.verdicts[1] == ("still_live", f"HTTP {status}")


def test_a_page_saying_the_listing_ended_reads_removed() -> None:
    profile = load_profiles()["bazaar"]
    page = HtmlResponse("http://m.test/l/1", status=200, encoding="utf-8",
                        body=b"<html><body><p>This listing was ended</p></body></html>")
    verdict, detail = read(profile, 200, page)
    assert verdict == "removed" and "This listing was ended" in detail
