"""The JavaScript marketplaces, checked in real Chromium through Playwright."""

from __future__ import annotations

from typing import Any

import pytest

from fixtures.catalogue import Catalogue
from fixtures.server import FixtureServer

pytestmark = pytest.mark.browser


def scroll_until_done(page: Any, card: str, done: str, limit: int = 60) -> list[str]:
    """Scroll like a user until the end marker shows; return the card ids in order."""
    for _ in range(limit):
        if page.locator(done).count():
            break
        page.mouse.wheel(0, 4000)
        page.wait_for_timeout(100)
    assert page.locator(done).count(), "the page never reached its end"
    ids: list[str] = page.eval_on_selector_all(
        card, "els => els.map(e => e.getAttribute('data-product-id'))")
    return ids


@pytest.mark.parametrize("keyword", ["acme", "velora sunglasses"])
def test_shopfront_infinite_scroll_shows_exactly_the_truth(
        page: Any, fixture_server: FixtureServer, catalogue: Catalogue, keyword: str) -> None:
    page.goto(f"{fixture_server.url}/shopfront/search?q={keyword}")
    page.wait_for_selector("article.product-tile")
    first = page.locator("article.product-tile").count()
    ids = scroll_until_done(page, "article.product-tile", ".end-of-results")
    truth = [r["listing_id"] for r in catalogue.truth(fixture_server.url, "shopfront", keyword)]
    assert first < len(ids), "only scrolling loads the rest"
    assert sorted(ids) == sorted(truth)
    assert len(ids) == len(set(ids))


def test_shopfront_html_alone_has_no_listings(fixture_server: FixtureServer,
                                              catalogue: Catalogue) -> None:
    from tests.conftest import fetch

    html = fetch(f"{fixture_server.url}/shopfront/search?q=acme").text
    assert "data-product-id" not in html
    assert not any(x.listing_id in html for x in catalogue.search("shopfront", "acme"))


def test_shopfront_product_page_renders(page: Any, fixture_server: FixtureServer,
                                         catalogue: Catalogue) -> None:
    x = next(x for x in catalogue.listings if x.marketplace == "shopfront" and x.brand)
    page.goto(fixture_server.url + x.path)
    assert page.text_content("h1.pdp-title") == x.title
    assert page.text_content(".pdp-seller-name") == x.seller
    assert page.text_content(".pdp-description") == x.description


def test_shopfront_empty_search(page: Any, fixture_server: FixtureServer) -> None:
    page.goto(f"{fixture_server.url}/shopfront/search?q=qqqzzz")
    page.wait_for_selector(".empty-state")
    assert page.locator("article.product-tile").count() == 0


def test_megamart_load_more_shows_exactly_the_truth(
        page: Any, fixture_server: FixtureServer, catalogue: Catalogue) -> None:
    page.goto(f"{fixture_server.url}/megamart/s?k=acme")
    card = '[data-component-type="s-search-result"]'
    assert page.locator(card).count() == 16
    clicks = 0
    while page.locator("#load-more").count():
        before = page.locator(card).count()
        page.click("#load-more")
        page.wait_for_function(f"document.querySelectorAll('{card}').length > {before}")
        clicks += 1
    ids = page.eval_on_selector_all(card, "els => els.map(e => e.dataset.asin)")
    truth = [r["listing_id"] for r in catalogue.truth(fixture_server.url, "megamart", "acme")]
    assert clicks >= 5
    assert sorted(ids) == sorted(truth)
