"""The profile spider: its requests are plain data (a real sweep of every fixture
marketplace serialises each one), and it reads a real fixture page into listings."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from scrapy.http import HtmlResponse, Request
from scrapy.utils.request import request_from_dict
from scrapy.utils.test import get_crawler

from crawler.distributed import codec
from crawler.downloadermiddlewares.contexts import BrowserContextMiddleware
from crawler.items import Listing
from crawler.profiles.loading import load_profiles
from crawler.profiles.model import MarketplaceProfile
from crawler.settings import DEFAULTS
from fixtures.server import FixtureServer
from spiders.profile import ProfileSpider
from tests import asyncrun

ROOT = Path(__file__).resolve().parent.parent
MARKETS = ("bazaar", "shopfront", "megamart", "tradehub")

# a sweep of the acme brand over the four fixture marketplaces, in a process of its own
# (one Twisted reactor per process), every scheduled request logged by tests.requests_seen
SWEEP = """
import sys
from pathlib import Path
from crawler.profiles.loading import load_profiles
from crawler.rules.files import keywords
from crawler.rules.loader import load_brand
from crawler.settings import DEFAULTS
from crawler.sweep.run import SweepPlan, run

db, log = Path(sys.argv[1]), sys.argv[2]
profiles = load_profiles()
plan = SweepPlan(kind="sweep", brand="acme", campaign=None, keywords=keywords("acme"),
                 profiles=[profiles[n] for n in sys.argv[3:]], max_pages=None, db=db,
                 ruleset=load_brand("acme"), cases=False, settings={
                     "EXTENSIONS": DEFAULTS["EXTENSIONS"] | {
                         "tests.requests_seen.RoundTrip": 0},
                     "TEST_REQUESTS_LOG": log})
result = run(plan)
print(result.status)
"""


def profiles_at(server: FixtureServer, monkeypatch: pytest.MonkeyPatch
                ) -> dict[str, MarketplaceProfile]:
    monkeypatch.setenv("BRANDSWEEP_FIXTURE_URL", server.url)
    return load_profiles()


@pytest.mark.browser
def test_every_request_of_a_real_sweep_of_each_marketplace_round_trips(
        fixture_server: FixtureServer, tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    env = dict(os.environ, BRANDSWEEP_FIXTURE_URL=fixture_server.url)
    done = subprocess.run([sys.executable, "-c", SWEEP, str(tmp_path / "s.db"), str(log),
                           *MARKETS], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=280)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-1] == "ok", done.stdout
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    errors = [line for line in lines if "error" in line or not line.get("same")]
    assert errors == []
    by_market = {m: [line for line in lines if line["spider"] == m] for m in MARKETS}
    for market, seen in by_market.items():
        assert seen, f"{market}: the sweep scheduled no request"
    # shopfront's search pages go through Chromium: their page method travels too
    assert any(line["browser"] for line in by_market["shopfront"])


def test_a_browser_search_request_is_plain_data(fixture_server: FixtureServer,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    profile = profiles_at(fixture_server, monkeypatch)["shopfront"]
    crawler = get_crawler(ProfileSpider, DEFAULTS | {"PLAYWRIGHT_LAUNCH_OPTIONS": {"a": 1}})
    spider = ProfileSpider.from_crawler(crawler, profile=profile, keywords=["acme"])
    request = spider.search_request("acme", 1, profile.search_url("acme"), True)
    back = request_from_dict(pickle.loads(pickle.dumps(
        request.to_dict(spider=spider))), spider=spider)
    # JSON as crawler.distributed queues it: names and values only
    assert codec.loads(codec.dumps(request.to_dict(spider=spider)))["meta"] == request.meta
    assert back.callback == spider.parse_search and back.errback == spider.on_error
    assert back.meta["playwright_page_init_callback"] == "crawler.browser.pages.guard_page"
    # the settle step is the spider's method by name, with the page limit and the wait
    assert back.meta["brandsweep_page_methods"] == [
        ["settle_page", spider.max_pages, int(profile.search.wait_seconds * 1000)]]
    assert "playwright_page_methods" not in back.meta

    # at download time the context middleware turns the name into the spider's method
    async def downloaded() -> Request:
        crawler.spider = spider
        BrowserContextMiddleware(crawler).process_request(back)
        return back

    asyncrun.run(downloaded())
    (method,) = back.meta["playwright_page_methods"]
    assert method.method == spider.settle_page
    assert method.args == (spider.max_pages, int(profile.search.wait_seconds * 1000))


def test_a_fixture_search_page_becomes_listings(fixture_server: FixtureServer,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    profile = profiles_at(fixture_server, monkeypatch)["bazaar"]
    crawler = get_crawler(ProfileSpider, DEFAULTS)
    spider = ProfileSpider.from_crawler(crawler, profile=profile, keywords=["acme"])
    request = spider.search_request("acme", 1, profile.search_url("acme"))
    with urllib.request.urlopen(request.url, timeout=30) as answer:
        body = answer.read()
    response = HtmlResponse(request.url, body=body, request=request,
                            headers={"Content-Type": "text/html; charset=utf-8"})

    async def read() -> list[Any]:
        return [out async for out in spider.parse_search(response)]

    out = asyncrun.run(read())
    listings = [o for o in out if isinstance(o, Listing)]
    follow = [o for o in out if isinstance(o, Request)]
    assert listings or follow, "the page gave neither listings nor detail requests"
    assert spider.health.status == "ok" and spider.health.pages["http"] == 1
    assert spider.outcome["acme"] == "results"
    for listing in listings:
        assert listing.marketplace == "bazaar" and listing.keyword == "acme"
        assert spider.policy.allows(listing.url)
    for req in follow:  # detail pages and further result pages are plain data too
        pickle.dumps(req.to_dict(spider=spider))
