"""Every fault mode of the fixture marketplaces behaves as documented."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from parsel import Selector

from fixtures.catalogue import Catalogue
from fixtures.faults import FaultSettings, FaultSpecError, parse_faults
from fixtures.server import FixtureServer
from tests.conftest import fetch

URLS = [f"/bazaar/sch?q=acme&page={p}" for p in range(1, 9)] + \
    [f"/tradehub/search?keywords=velora&beginPage={p}" for p in range(1, 10)] + \
    [f"/megamart/s/more?k=acme&page={p}" for p in range(2, 12)] + \
    [f"/shopfront/api/search?q=acme&offset={o}" for o in range(0, 180, 20)]


def _server(faults: str, **settings: Any) -> FixtureServer:
    return FixtureServer(port=0, hard=False, seed=7, faults=parse_faults(faults),
                         settings=FaultSettings(**settings))


@pytest.fixture
def served(request: pytest.FixtureRequest) -> Iterator[FixtureServer]:
    faults, settings = request.param
    with _server(faults, **settings) as server:
        yield server


def _get(url: str, timeout: float = 10) -> int | str:
    """The status, or what went wrong at the connection level."""
    try:
        return fetch(url, timeout=timeout).status
    except (http.client.RemoteDisconnected, ConnectionResetError):
        return "dropped"
    except TimeoutError:
        return "timeout"
    except OSError as exc:  # urllib wraps timeouts and resets in URLError
        return "timeout" if "timed out" in str(exc) else "dropped"


@pytest.mark.parametrize("served", [("ratelimit", {})], indirect=True)
def test_ratelimit_answers_429_with_retry_after_then_recovers(served: FixtureServer) -> None:
    first = {u: fetch(served.url + u) for u in URLS}
    limited = [u for u, r in first.items() if r.status == 429]
    assert 0.15 * len(URLS) < len(limited) < 0.5 * len(URLS)
    assert all(first[u].headers["retry-after"] == "1" for u in limited)
    assert all(fetch(served.url + u).status == 200 for u in limited)
    # support routes are never throttled
    assert all(fetch(served.url + "/_fixtures/health").status == 200 for _ in range(20))


@pytest.mark.parametrize("served", [("flaky", {})], indirect=True)
def test_flaky_fails_some_urls_once_or_twice_then_serves(served: FixtureServer) -> None:
    outcomes: dict[str, list[int | str]] = {}
    for u in URLS:
        tries: list[int | str] = []
        while not tries or tries[-1] != 200:
            tries.append(_get(served.url + u))
            assert len(tries) <= 3, (u, tries)
        outcomes[u] = tries
    failures = [t for tries in outcomes.values() for t in tries if t != 200]
    assert 503 in failures and "dropped" in failures
    assert any(len(t) == 3 for t in outcomes.values())


@pytest.mark.parametrize("served", [("slow", {"slow_seconds": 1.5, "slow_share": 0.3})],
                         indirect=True)
def test_slow_responses_outlast_a_download_timeout(served: FixtureServer) -> None:
    first = {u: _get(served.url + u, timeout=0.5) for u in URLS[:12]}
    slow = [u for u, r in first.items() if r == "timeout"]
    assert slow and len(slow) < len(first)
    started = time.monotonic()
    assert all(_get(served.url + u, timeout=0.5) == 200 for u in slow)
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("served", [("captcha:bazaar", {"captcha_burst": 10,
                                                        "captcha_window": 30,
                                                        "captcha_seconds": 1.5})],
                         indirect=True)
def test_captcha_wall_after_a_burst_then_lifts(served: FixtureServer) -> None:
    pages = [fetch(f"{served.url}/bazaar/sch?q=acme&page={p % 8 + 1}") for p in range(14)]
    assert all(p.status == 200 for p in pages), "a CAPTCHA wall answers 200, like real ones"
    walled = ["Please verify you are a human" in p.text for p in pages]
    assert walled[:10] == [False] * 10 and all(walled[11:])
    assert not Selector(pages[-1].text).css("li.s-item")
    # other marketplaces keep serving
    assert "s-search-result" in fetch(f"{served.url}/megamart/s?k=acme").text
    time.sleep(1.6)
    assert "li class=\"s-item\"" in fetch(f"{served.url}/bazaar/sch?q=acme").text.replace(
        "<li class", "li class")


@pytest.mark.parametrize("served", [("layout:bazaar,layout:shopfront,layout:megamart,"
                                     "layout:tradehub", {})], indirect=True)
def test_layout_switches_every_marketplace_to_new_markup(served: FixtureServer,
                                                         catalogue: Catalogue) -> None:
    base = served.url
    bazaar = Selector(fetch(f"{base}/bazaar/sch?q=acme").text)
    assert not bazaar.css("li.s-item") and len(bazaar.css(".su-card-container")) == 24
    megamart = Selector(fetch(f"{base}/megamart/s?k=acme").text)
    assert not megamart.css('[data-component-type="s-search-result"]')
    assert len(megamart.css(".mm-product-card")) == 16
    tradehub = Selector(fetch(f"{base}/tradehub/search?keywords=acme").text)
    assert not tradehub.css(".offer-card") and tradehub.css(".sm-offer-item")
    assert fetch(f"{base}/shopfront/api/search?q=acme").status == 410
    v2 = json.loads(fetch(f"{base}/shopfront/api/v2/search?q=acme").body)
    assert v2["data"]["count"] == len(catalogue.search("shopfront", "acme"))


def test_layout_aimed_at_one_marketplace_leaves_the_others(fixture_server: FixtureServer
                                                           ) -> None:
    with _server("layout:megamart") as server:
        assert "li class=\"s-item\"" in fetch(f"{server.url}/bazaar/sch?q=acme").text.replace(
            "<li class", "li class")
        assert "mm-product-card" in fetch(f"{server.url}/megamart/s?k=acme").text


def test_fault_decisions_are_seeded() -> None:
    with _server("ratelimit") as a, _server("ratelimit") as b:
        assert [fetch(a.url + u).status for u in URLS] == [fetch(b.url + u).status for u in URLS]


def test_fault_spec_errors_name_the_bad_part() -> None:
    with pytest.raises(FaultSpecError, match=r"unknown fault 'slowness'.*choose from"):
        parse_faults("slowness")
    with pytest.raises(FaultSpecError, match="unknown marketplace 'ebay'"):
        parse_faults("captcha:ebay")
    assert parse_faults("captcha:bazaar, layout") == {
        "captcha": frozenset({"bazaar"}),
        "layout": frozenset({"bazaar", "shopfront", "megamart", "tradehub"}),
    }


@pytest.mark.browser
def test_shopfront_app_retries_through_ratelimit_and_flaky(page: Any, catalogue: Catalogue
                                                          ) -> None:
    with _server("ratelimit:shopfront,flaky:shopfront") as server:
        for _ in range(4):  # the document itself may be throttled: retry like a crawler
            try:
                if page.goto(f"{server.url}/shopfront/search?q=velora").status == 200:
                    break
            except Exception:
                page.wait_for_timeout(500)
        for _ in range(80):
            if page.locator(".end-of-results").count():
                break
            page.mouse.wheel(0, 4000)
            page.wait_for_timeout(150)
        ids = page.eval_on_selector_all("article.product-tile",
                                        "els => els.map(e => e.dataset.productId)")
    assert sorted(ids) == sorted(x.listing_id for x in catalogue.search("shopfront", "velora"))


@pytest.mark.browser
def test_shopfront_shows_the_captcha_wall_in_the_browser(page: Any) -> None:
    with _server("captcha:shopfront", captcha_burst=2, captcha_seconds=30) as server:
        for _ in range(3):
            fetch(f"{server.url}/shopfront/api/search?q=acme")
        page.goto(f"{server.url}/shopfront/search?q=acme")
        page.wait_for_selector("#captcha-form")
        assert page.locator("article.product-tile").count() == 0
