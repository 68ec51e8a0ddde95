"""Reading a results page: each card's listing (its URL checked against the policy, its
price, numbers and links read), the next page's URL, and whether a listing needs its
detail page. A mixin of the profile spider: it uses the spider's profile, URL policy,
health and refusal bookkeeping."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import scrapy
from scrapy.http import Response

from crawler import urls
from crawler.extract import fields as extract
from crawler.extract.normalize import clean_text, parse_int, read_price
from crawler.items import Listing
from crawler.profiles.model import MarketplaceProfile
from spiders.health import Health


class ResultsPage:
    """What the profile spider knows how to read off a results page."""

    profile: MarketplaceProfile
    policy: urls.UrlPolicy
    health: Health
    seen: set[str]
    max_pages: int
    logger: Any

    def search_request(self, keyword: str, page: int, url: str,
                       browser: bool | None = None) -> scrapy.Request:
        raise NotImplementedError

    def _refuse(self, url: str, why: str, where: str) -> None:
        raise NotImplementedError

    def _fail(self, status: str, reason: str) -> None:
        raise NotImplementedError

    def _next_pages(self, response: Response, cards: Any) -> Iterator[scrapy.Request]:
        meta = response.meta
        for url, browser in self._pagination(response):
            # checked before a Request exists: Scrapy refuses to build one for javascript:
            why = self.policy.refusal(url)
            if why is None:
                yield self.search_request(meta["keyword"], meta["page"] + 1, url, browser)
            else:
                self._refuse(url, why, "next page")
                self.health.failed_pages.append(
                    f"{response.url}: next page {url[:200]} refused: {why}"[:300])
    def _pagination(self, response: Response) -> Iterator[tuple[str, bool | None]]:
        """The next result page's URL, and whether it needs the browser (None: as the
        marketplace does)."""
        meta = response.meta
        pagination = self.profile.search.pagination
        page = meta["page"]
        if page >= self.max_pages or (meta["render"] == "browser" and \
                pagination.kind in ("infinite_scroll", "load_more")):
            return
        if pagination.kind == "json_api" and pagination.next:
            nxt = extract.field(pagination.next, item=self._json(response))
            if isinstance(nxt, str) and nxt.isdigit():
                url = self.profile.search_url(meta["keyword"], page + 1, offset=int(nxt))
                yield url, None
            elif isinstance(nxt, str) and nxt:
                yield response.urljoin(nxt), None
        elif pagination.kind in ("next_link", "load_more") and pagination.next:
            nxt = extract.field(pagination.next, response)
            if isinstance(nxt, str) and nxt:
                yield response.urljoin(nxt), meta["render"] == "browser"
        elif pagination.kind == "page_param":
            total = extract.field(pagination.total_pages, response) \
                if pagination.total_pages else None
            pages = parse_int(total if isinstance(total, str) else None)
            if pages is None or page < pages:
                url = self.profile.search_url(meta["keyword"], page + 1)
                yield url, meta["render"] == "browser"
    def _json(self, response: Response) -> Any:
        import json

        try:
            return json.loads(response.text)
        except ValueError:
            self._fail("extraction_failed", f"{response.url}: the API did not answer JSON")
    def _listing(self, card: Any, response: Response) -> Listing | Literal[False] | None:
        """The card's listing; None when it lacks an id, URL or title, False when its URL
        is one brandsweep may not fetch (never stored, so never a case or a notice)."""
        if isinstance(card, dict):
            values = {name: extract.field(spec, item=card)
                      for name, spec in self.profile.listing.fields.items()}
        else:
            values = extract.fields(self.profile.listing.fields, card)
        lid, url, title = values.get("listing_id"), values.get("url"), values.get("title")
        if not (isinstance(lid, str) and isinstance(url, str) and isinstance(title, str)):
            return None
        url = absolute(url, response)
        why = self.policy.refusal(url)
        if why is not None:
            self._refuse(url, why, f"listing {lid[:80]!r}")
            return False
        listing = Listing(marketplace=self.profile.name, listing_id=lid,
                          url=url, title=clean_text(title) or title,
                          keyword=response.meta["keyword"],
                          render_mode=response.meta["render"],
                          currency=self.profile.currency)
        for name, value in values.items():
            if name not in ("listing_id", "url", "title") and value is not None:
                self._set(listing, name, value, response)
        if lid not in self.seen:
            self.seen.add(lid)
            self.health.listings = len(self.seen)
        return listing
    def _set(self, listing: Listing, name: str, value: extract.Value,
             response: Response | None = None) -> None:
        if name == "price" and isinstance(value, str):
            reading = read_price(value, self.profile.currency)
            if reading.problem is not None:
                self.health.price_warnings += 1
                self.logger.warning("%s: price not stored: %s", listing.url, reading.problem)
            listing.price = str(reading.low) if reading.low is not None else None
            listing.price_high = str(reading.high) if reading.high is not None else None
            listing.currency = reading.currency
        elif name in ("units_sold", "moq"):
            setattr(listing, name, parse_int(value if isinstance(value, str) else None))
        elif name == "image_urls":
            urls = value if isinstance(value, list) else [value] if value else []
            listing.image_urls = [u for u in (absolute(u, response) for u in urls)
                                  if self._allowed(u, listing, "image")]
        elif name in ("url", "seller_url") and isinstance(value, str):
            url = absolute(value, response)
            if self._allowed(url, listing, name.replace("_", " ")):
                setattr(listing, name, url)
        elif isinstance(value, str):
            setattr(listing, name, clean_text(value))
    def _allowed(self, url: str, listing: Listing, what: str) -> bool:
        why = self.policy.refusal(url)
        if why is not None:
            self._refuse(url, why, f"{what} of listing {listing.listing_id[:80]!r}")
        return why is None
    def _needs_detail(self, listing: Listing) -> bool:
        detail = self.profile.detail
        if detail.when == "always":
            return True
        if detail.when == "missing":
            return any(getattr(listing, name, None) in (None, []) for name in detail.fields
                       if name != "description")
        return False


def absolute(url: str, response: Response | None) -> str:
    """A page's link made absolute; most are already, and those skip the parse."""
    if response is None or url.startswith(("https://", "http://")):
        return url
    return response.urljoin(url)
