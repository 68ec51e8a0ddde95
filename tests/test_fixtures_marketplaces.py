"""Each fixture marketplace serves exactly the listings the truth names, page by page."""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import quote, urljoin

import pytest
from parsel import Selector

from fixtures.brands import BRANDS
from fixtures.catalogue import Catalogue
from fixtures.marketplaces.tradehub import gb18030
from fixtures.server import FixtureServer
from tests.conftest import fetch

KEYWORDS = [k for b in BRANDS.values() for k in b.keywords]
Row = dict[str, object]


def _money(text: str) -> Decimal:
    digits = "".join(c for c in text if c.isdigit() or c in ".,")
    if "," in digits and digits.rfind(",") > digits.rfind("."):  # 1.234,56 (EUR)
        digits = digits.replace(".", "").replace(",", ".")
    return Decimal(digits.replace(",", ""))


def crawl_bazaar(base: str, q: str) -> dict[str, Row]:
    out: dict[str, Row] = {}
    url: str | None = f"{base}/bazaar/sch?q={quote(q)}"
    while url:
        sel = Selector(fetch(url).text)
        for card in sel.css("li.s-item"):
            out[card.attrib["data-listing-id"]] = {
                "url": urljoin(url, card.css("a.s-item__link::attr(href)").get()),
                "title": card.css(".s-item__title::text").get(),
                "price": _money(card.css(".s-item__price::text").get("")),
                "seller": card.css(".s-item__seller-name::text").get(),
            }
        nxt = sel.css("a.pagination__next::attr(href)").get()
        url = urljoin(url, nxt) if nxt else None
    return out


def crawl_megamart(base: str, q: str) -> dict[str, Row]:
    out: dict[str, Row] = {}
    url: str | None = f"{base}/megamart/s?k={quote(q)}"
    while url:
        sel = Selector(fetch(url).text)
        for card in sel.css('[data-component-type="s-search-result"]'):
            out[card.attrib["data-asin"]] = {
                "url": urljoin(url, card.css("h2 a::attr(href)").get()),
                "title": card.css("h2 a span::text").get(),
                "price": _money(card.css(".a-price .a-offscreen::text").get("")),
            }
        nxt = sel.css("#load-more::attr(data-next)").get()
        url = urljoin(url, nxt) if nxt else None
    return out


def crawl_tradehub(base: str, q: str) -> dict[str, Row]:
    out: dict[str, Row] = {}
    page, pages = 1, 1
    while page <= pages:
        sel = Selector(fetch(f"{base}/tradehub/search?keywords={quote(q)}&beginPage={page}").text)
        pages = int(sel.css(".pager::attr(data-total-pages)").get("0"))
        for card in sel.css(".offer-card"):
            low, _, high = card.css(".offer-price::text").get("").partition(" - ")
            out[card.attrib["data-offer-id"]] = {
                "url": urljoin(base, card.css("a.offer-title::attr(href)").get()),
                "title": card.css("a.offer-title::text").get(),
                "price": _money(low),
                "price_high": _money(high) if high else _money(low),
                "seller": card.css(".company-name::text").get(),
            }
        page += 1
    return out


def crawl_shopfront_api(base: str, q: str) -> dict[str, Row]:
    out: dict[str, Row] = {}
    offset: int | None = 0
    while offset is not None:
        data = json.loads(fetch(f"{base}/shopfront/api/search?q={quote(q)}&offset={offset}").body)
        for item in data["items"]:
            out[item["id"]] = {"url": urljoin(base, item["url"]), "title": item["title"],
                               "price": _money(item["price"]["formatted"]),
                               "seller": item["seller"]["name"]}
        offset = data["next"]
    return out


CRAWLERS = {"bazaar": crawl_bazaar, "megamart": crawl_megamart, "tradehub": crawl_tradehub,
            "shopfront": crawl_shopfront_api}


@pytest.mark.parametrize("market", sorted(CRAWLERS))
@pytest.mark.parametrize("keyword", KEYWORDS)
@pytest.mark.parametrize("scale", [1, 3])
def test_search_serves_exactly_the_truth(request: pytest.FixtureRequest, market: str,
                                         keyword: str, scale: int) -> None:
    # the 1x world, and --scale 3: three times the result pages, the same agreement
    fixture_server: FixtureServer = request.getfixturevalue(
        "fixture_server" if scale == 1 else "scaled_server")
    catalogue: Catalogue = request.getfixturevalue(
        "catalogue" if scale == 1 else "scaled_catalogue")
    assert catalogue.scale == scale
    seen = CRAWLERS[market](fixture_server.url, keyword)
    truth = {str(r["listing_id"]): r for r in
             catalogue.truth(fixture_server.url, market, keyword)}
    assert seen.keys() == truth.keys()
    assert truth, "every demo keyword finds listings"
    for lid, row in seen.items():
        expected = truth[lid]
        assert row["url"] == expected["url"]
        assert row["title"] == expected["title"]
        assert row["price"] == Decimal(str(expected["price"]))
        if "seller" in row:
            assert row["seller"] == expected["seller"]
        if "price_high" in row:
            assert row["price_high"] == Decimal(str(expected["price_high"]))


def test_unknown_keyword_gives_the_no_results_page(fixture_server: FixtureServer) -> None:
    base = fixture_server.url
    assert "No exact matches found" in fetch(f"{base}/bazaar/sch?q=qqqzzz").text
    assert "s-no-results" in fetch(f"{base}/megamart/s?k=qqqzzz").text
    assert "no-result" in fetch(f"{base}/tradehub/search?keywords=qqqzzz").text
    assert json.loads(fetch(f"{base}/shopfront/api/search?q=qqqzzz").body)["total"] == 0


@pytest.mark.parametrize("market", ["bazaar", "megamart", "tradehub"])
def test_detail_pages_agree_with_truth(fixture_server: FixtureServer, catalogue: Catalogue,
                                       market: str) -> None:
    records = list(catalogue.truth(fixture_server.url, market, "velora sunglasses"))
    for r in records:
        page = fetch(str(r["url"]))
        assert page.status == 200
        sel = Selector(page.text)
        if market == "bazaar":
            assert sel.css("h1.x-item-title__mainTitle span::text").get() == r["title"]
            assert sel.css(".x-sellercard-atf__info__about-seller span::text").get() == \
                r["seller"]
            assert sel.css("#desc p::text").get()
        elif market == "megamart":
            ld = json.loads(sel.css('script[type="application/ld+json"]::text').get(""))
            assert ld["name"] == r["title"]
            assert ld["offers"]["seller"]["name"] == r["seller"]
            assert Decimal(ld["offers"]["price"]) == Decimal(str(r["price"]))
            assert ld["offers"]["priceCurrency"] == "GBP"
        else:
            assert sel.css("h1.d-title::text").get() == r["title"]
            assert sel.css(".supplier-name::text").get() == r["seller"]


def test_tradehub_serves_some_pages_in_gb18030_named_only_in_the_header(
        fixture_server: FixtureServer, catalogue: Catalogue) -> None:
    offers = [x for x in catalogue.listings if x.marketplace == "tradehub"]
    gb = [x for x in offers if gb18030(catalogue.seed, x.path)]
    utf8 = [x for x in offers if not gb18030(catalogue.seed, x.path)]
    assert gb and utf8
    chinese = next(x for x in gb if any("\u4e00" <= c <= "\u9fff" for c in x.title))
    page = fetch(fixture_server.url + chinese.path)
    assert page.headers["content-type"] == "text/html; charset=GB18030"
    assert b"<meta charset" not in page.body
    assert chinese.title.encode("gb18030") in page.body
    with pytest.raises(UnicodeDecodeError):
        page.body.decode("utf-8")
    assert chinese.title in page.text
    other = fetch(fixture_server.url + utf8[0].path)
    assert b'<meta charset="utf-8">' in other.body


def test_titles_are_escaped_never_markup(fixture_server: FixtureServer) -> None:
    page = fetch(f"{fixture_server.url}/bazaar/sch?q=%3Cscript%3Ealert(1)%3C/script%3E")
    assert "<script>alert(1)" not in page.text
    assert "&lt;script&gt;alert(1)" in page.text


def test_support_routes(fixture_server: FixtureServer) -> None:
    base = fixture_server.url
    robots = fetch(base + "/robots.txt")
    assert robots.status == 200 and b"Disallow: /bazaar/usr/" in robots.body
    health = json.loads(fetch(base + "/_fixtures/health").body)
    assert health == {"ok": True, "seed": 7, "listings": 1720, "faults": "", "day": 0}
    image = fetch(base + "/img/ACM-PX2-official.png")
    assert image.headers["content-type"] == "image/png" and image.body.startswith(b"\x89PNG")
    assert fetch(base + "/nowhere").status == 404
    assert fetch(base + "/bazaar/itm/0").status == 404
    assert fetch(base + "/shopfront/static/app.js").status == 200


def test_same_seed_same_bytes(fixture_server: FixtureServer) -> None:
    paths = ["/bazaar/sch?q=acme&page=3", "/megamart/s/more?k=velora&page=2",
             "/tradehub/search?keywords=acme&beginPage=2", "/shopfront/api/search?q=velora",
             "/shopfront/search?q=acme", "/img/cf-acme-stolen-1.png"]
    with FixtureServer(port=0, hard=False, seed=7) as twin, \
            FixtureServer(port=0, hard=False, seed=8) as other:
        for path in paths:
            ours = fetch(fixture_server.url + path).body
            assert ours == fetch(twin.url + path).body, path
        assert fetch(fixture_server.url + paths[0]).body != fetch(other.url + paths[0]).body
