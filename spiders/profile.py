"""The generic spider: sweeps one marketplace, described by its profile, for keywords.

One crawler runs per marketplace in a sweep, so one marketplace that blocks us or changes
its layout closes only its own crawler, and its health is recorded, never mistaken for
"no results": every keyword must end on a results page that was read, or on the
profile's "no results" marker; a keyword that ends any other way (its pages failed, were
refused, or redirected in a loop) fails the marketplace.

Pages are written by counterfeiters: a listing whose URL ``crawler.urls`` refuses is
dropped (counted in ``Health.refused_urls``), a refused seller or image URL is dropped
from its listing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, Self

import scrapy
from parsel import Selector
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure
from w3lib.url import canonicalize_url

from crawler import urls
from crawler.browser.pages import CONTEXT_KWARGS, GUARD_PAGE
from crawler.browser.settle import settle
from crawler.downloadermiddlewares.urlpolicy import RefusedUrl
from crawler.downloadhandlers import rotation
from crawler.extract import fields as extract
from crawler.extract import markers
from crawler.items import Listing
from crawler.profiles.model import MarketplaceProfile
from spiders.health import Health
from spiders.readings import DetailReadings
from spiders.results import ResultsPage, absolute


class ProfileSpider(ResultsPage, scrapy.Spider):
    """Runs any marketplace profile. Arguments: ``profile``, ``keywords``, ``max_pages``."""

    name = "profile"

    def __init__(self, profile: MarketplaceProfile, keywords: list[str],
                 max_pages: int | None = None, **kwargs: Any) -> None:
        super().__init__(name=profile.name, **kwargs)
        self.profile = profile
        self.keywords = keywords
        self.max_pages = min(max_pages or profile.search.pagination.max_pages,
                             profile.search.pagination.max_pages)
        self.browser = profile.search.render == "browser"
        self.health = Health()
        self.seen: set[str] = set()
        # a detail page is fetched once, whichever keyword found the listing first (what
        # it gave is kept by ``readings``)
        self.waiting: dict[str, list[Listing]] = {}
        # what earlier sweeps read on detail pages (none until from_crawler finds a store)
        self.readings = DetailReadings(None, profile.name, profile.detail.refresh_days)
        self.policy = urls.for_profile(profile)
        # how each keyword's search ended: "results", "no_results", or why it failed
        self.outcome: dict[str, str] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        # the scheduler drops a request for a page already fetched: a search that
        # redirects to itself (or in a circle) would otherwise just stop, silently
        crawler.signals.connect(spider.on_dropped, signal=signals.request_dropped)
        s = crawler.settings
        spider.readings = DetailReadings(
            s.get("BRANDSWEEP_DB") or None, spider.profile.name,
            spider.profile.detail.refresh_days, s.getint("BRANDSWEEP_SWEEP_ID") or None,
            s.getint("BRANDSWEEP_FLUSH_ITEMS", 200))
        return spider

    # -- requests -------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for keyword in self.keywords:
            url = self.profile.search_url(keyword)
            why = self.policy.refusal(url)
            if why is not None:
                self._refuse(url, why, "search page")
                self.outcome[keyword] = f"search URL {url[:200]} refused: {why}"
                continue
            yield self.search_request(keyword, 1, url)

    def search_request(self, keyword: str, page: int, url: str,
                       browser: bool | None = None) -> scrapy.Request:
        browser = self.browser if browser is None else browser
        meta: dict[str, Any] = {"keyword": keyword, "page": page,
                                "render": "browser" if browser else "http"}
        if browser:
            meta.update(
                playwright=True,
                playwright_include_page=True,
                # playwright_context is set at download time: downloadermiddlewares.contexts
                # this spider's method by name, with plain arguments: resolved when the
                # request is downloaded (downloadermiddlewares.contexts), as Scrapy
                # resolves callbacks, so the request stays plain data (JOBDIR, a queue)
                brandsweep_page_methods=[["settle_page", self.max_pages,
                                          int(self.profile.search.wait_seconds * 1000)]],
                # what a search page never needs and a hostile one could use to reach
                # addresses the URL policy forbids: WebSockets, popups, service workers
                playwright_page_init_callback=GUARD_PAGE,
                brandsweep_policy=[self.profile.base_url, list(self.profile.allowed_hosts)],
                playwright_context_kwargs=dict(CONTEXT_KWARGS),
                # a browser page's "latency" is mostly our own scrolling; letting
                # AutoThrottle read it as the server's spaced pages seconds apart
                autothrottle_dont_adjust_delay=True,
            )
        return scrapy.Request(url, callback=self.parse_search, errback=self.on_error,
                              meta=meta, dont_filter=browser)

    async def settle_page(self, page: Any, max_pages: int, wait_ms: int) -> dict[str, int]:
        """The search page's settle step (a scrapy-playwright page method, named in
        ``meta["brandsweep_page_methods"]``): wait for its listings, then scroll or click
        "load more" up to ``max_pages`` batches."""
        return await settle(page, self.profile, max_pages, wait_ms=wait_ms)

    # -- callbacks ------------------------------------------------------------------------

    async def parse_search(self, response: Response) -> AsyncIterator[Any]:
        # a browser page is closed before anything else can fail
        page = response.meta.get("playwright_page")
        if page is not None:
            await rotation.for_crawler(self.crawler).release(
                page, response.meta.get("playwright_context"))
        for out in self._parse_search(response):
            yield out

    def _parse_search(self, response: Response) -> Iterator[Any]:
        meta = response.meta
        render = meta["render"]
        self.health.pages[render] += 1
        if not isinstance(response, TextResponse):
            self._fail("extraction_failed", f"{response.url}: not a text page")
        self._check_blocked(response)
        if self.profile.search.pagination.kind == "json_api":
            data = self._json(response)
            found = extract.dig(data, self.profile.listing.card)
            if isinstance(found, list) and not found:
                self.health.no_results.append(meta["keyword"])
                return
            if not isinstance(found, list):
                self._fail("extraction_failed", f"{response.url}: no list at "
                           f"{self.profile.listing.card!r} in the JSON (did the API change?)")
            cards: Any = found
        else:
            cards = extract.select(self.profile.listing.card, response)
        if not cards:
            yield from self._no_cards(response)
            return
        self._done(meta["keyword"], "results")
        broken = refused = 0
        self.health.cards += len(cards)
        for card in cards:
            listing = self._listing(card, response)
            if listing is None:
                broken += 1
                continue
            if listing is False:
                refused += 1
                continue
            yield from self.card_listing(listing)
        if broken * 2 > len(cards):
            self._fail("extraction_failed", f"{response.url}: {broken} of {len(cards)} "
                       "listing cards lack an id, URL or title (did the layout change?)")
        if refused * 2 > len(cards):
            self._fail("failed", f"{response.url}: {refused} of {len(cards)} listing links "
                       f"were refused ({self.health.refused[-1] if self.health.refused else ''}"
                       "); if that host is the marketplace's own, add it to the profile's "
                       "allowed_hosts")
        yield from self._next_pages(response, cards)

    def card_listing(self, listing: Listing) -> Iterator[Any]:
        """A card's listing: as it is, with the detail values read already (by this crawl,
        or by an earlier sweep for the same card within ``detail.refresh_days``), or held
        until its detail page is read (requested once, whichever keyword found it first)."""
        if not self._needs_detail(listing):
            yield listing
        elif (read := self.readings.this_crawl(listing.listing_id)) is not None:
            yield self._with_detail(listing, read)
        elif listing.listing_id in self.waiting:
            self.waiting[listing.listing_id].append(listing)
        elif (known := self.readings.unchanged(listing)) is not None:
            # the same values a fetch would fill in, so judging sees the same listing
            self.health.detail_skipped = len(self.readings.skipped)
            yield self._with_detail(listing, known)
        else:
            self.waiting[listing.listing_id] = [listing]
            yield self.detail_request(listing)

    def detail_request(self, listing: Listing) -> scrapy.Request:
        """The request for ``listing``'s detail page."""
        # before the next result pages: Scrapy's queue is last in, first out, and a
        # results page's next page comes last, so the search would walk ahead while every
        # detail request it left waited in memory (memory growing with the listings)
        return scrapy.Request(listing.url, callback=self.parse_detail,
                              errback=self.on_detail_error,
                              cb_kwargs={"listing_id": listing.listing_id},
                              meta={"render": "http"}, priority=1)

    def _no_cards(self, response: Response) -> Iterator[Any]:
        meta = response.meta
        if markers.no_results_shown(self.profile, response):
            self.health.no_results.append(meta["keyword"])
            return
        if meta["page"] > 1 and self.profile.search.pagination.kind == "page_param":
            return  # walked past the last page
        if self.profile.search.render == "auto" and meta["render"] == "http":
            # results exist but HTTP shows none: this marketplace needs a browser
            self.browser = True
            self.health.switched_to_browser = True
            yield self.search_request(meta["keyword"], meta["page"], response.url, True)
            return
        self._fail("extraction_failed", f"{response.url}: no listing matched "
                   f"{self.profile.listing.card!r} and no 'no results' message showed "
                   f"(did the layout change? check with: brandsweep marketplaces check "
                   f"{self.profile.name} --keyword {meta['keyword']!r})")

    def parse_detail(self, response: Response, listing_id: str) -> Iterator[Listing]:
        self.health.detail_pages += 1
        self._check_blocked(response)
        sel = Selector(text=response.text) if isinstance(response, TextResponse) else None
        values = extract.fields(self.profile.detail.fields, sel, extract.json_ld(sel)) \
            if sel is not None else {}
        for name in ("seller_url", "image_urls"):  # relative to the detail page
            value = values.get(name)
            if isinstance(value, str):
                values[name] = absolute(value, response)
            elif isinstance(value, list):
                values[name] = [absolute(u, response) for u in value if isinstance(u, str)]
        yield from self.detail_read(listing_id, values)

    def detail_read(self, listing_id: str, values: dict[str, extract.Value]
                    ) -> Iterator[Listing]:
        """A detail page was read: the listings waiting for it, completed; the reading
        is recorded with the card it was requested for, for the next sweep."""
        waiting = self.waiting.pop(listing_id, [])
        self.readings.read(listing_id, values, waiting[0] if waiting else None)
        for listing in waiting:
            yield self._with_detail(listing, values)

    def detail_lost(self, listing_id: str) -> Iterator[Listing]:
        """A detail page could not be read: the listings waiting for it, as they are."""
        yield from self.waiting.pop(listing_id, [])

    def on_detail_error(self, failure: Failure) -> Iterator[Listing]:
        """A lost detail page costs its fields, never the listing itself."""
        request = failure.request  # type: ignore[attr-defined]
        if isinstance(failure.value, RefusedUrl):
            # a detail page that redirects off-site: the listing keeps its card's fields
            self._refuse(failure.value.url, failure.value.reason, "detail page")
        elif not failure.check(CloseSpider):  # type: ignore[no-untyped-call]
            self.health.failed_pages.append(
                f"{request.url}: {failure.getErrorMessage()}"[:300])
        yield from self.detail_lost(request.cb_kwargs["listing_id"])

    def _with_detail(self, listing: Listing, values: dict[str, extract.Value]) -> Listing:
        for name, value in values.items():
            if value is not None and getattr(listing, name, None) in (None, []):
                self._set(listing, name, value)
        return listing

    async def on_error(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        if request.meta.get("playwright_context"):
            # with or without a page: the context must not wait for it; a page that
            # failed is closed, never handed to the next request
            await rotation.for_crawler(self.crawler).release(
                request.meta.get("playwright_page"), request.meta["playwright_context"],
                reusable=False)
        if failure.check(CloseSpider):  # type: ignore[no-untyped-call]
            return
        message = failure.getErrorMessage()
        if isinstance(failure.value, RefusedUrl):
            self._refuse(failure.value.url, failure.value.reason, "search page")
        self.health.failed_pages.append(f"{request.url}: {message}"[:300])
        keyword = request.meta.get("keyword")
        if keyword is not None:
            self._done(keyword, f"{request.url[:200]}: {message[:200]}", failed=True)
        self.logger.error("giving up on %s: %s", request.url, message)

    def on_dropped(self, request: scrapy.Request, spider: Any = None) -> None:
        """``request_dropped``: the scheduler refused a request as a duplicate."""
        keyword = request.meta.get("keyword")
        if keyword is None:
            return
        chain = [canonicalize_url(u) for u in request.meta.get("redirect_urls", [])]
        if canonicalize_url(request.url) in chain:
            self._done(keyword, f"{request.meta['redirect_urls'][0][:200]} redirected back "
                       f"to {request.url[:200]} (a redirect loop)", failed=True)
        elif request.meta.get("page") == 1:
            # the very page another keyword's search fetched (or was redirected to):
            # read once, and that keyword's outcome stands for both
            self._done(keyword, "results")

    def closed(self, reason: str) -> None:
        """The end of the crawl: a keyword that ended neither on a results page nor on
        the "no results" marker fails the marketplace, as does the deadline."""
        self.readings.flush()
        health = self.health
        for keyword in health.no_results:  # the marker showed (see _no_cards)
            self.outcome[keyword] = "no_results"
        if reason == "closespider_timeout":
            left = [k for k in self.keywords if self.outcome.get(k) not in
                    ("results", "no_results")]
            if health.status in ("ok", "partial"):
                health.status = "failed"
                health.reason = (
                    f"deadline: the crawl was stopped after "
                    f"{self.settings.getfloat('CLOSESPIDER_TIMEOUT'):g} s (--deadline, "
                    f"BRANDSWEEP_MARKETPLACE_DEADLINE); {len(left)} of {len(self.keywords)} "
                    "keywords unfinished")
            return
        if health.status != "ok" or reason != "finished":
            return
        unfinished = {k: self.outcome.get(k) for k in self.keywords
                      if self.outcome.get(k) not in ("results", "no_results")}
        if unfinished:
            health.status = "failed"
            health.reason = f"{len(unfinished)} of {len(self.keywords)} keywords got no " \
                "results page: " + "; ".join(
                    f"{k!r}: {why or 'no results page was read'}"
                    for k, why in list(unfinished.items())[:3])

    # -- helpers --------------------------------------------------------------------------

    def _check_blocked(self, response: Response) -> None:
        if not isinstance(response, TextResponse):
            return
        ctype = response.headers.get(b"Content-Type") or b"text/html"
        hit = markers.blocked_marker(self.profile, response.text,
                                     ctype.decode("latin-1"), page=response)
        if hit is not None:
            self._fail("blocked", f"{response.url}: blocked page ({hit!r} found); the "
                       "marketplace is showing a CAPTCHA or bot wall, slow down or retry later")

    def _done(self, keyword: str, outcome: str, failed: bool = False) -> None:
        """Record how ``keyword``'s search went; a results page read wins over any failure
        of its other pages."""
        if not failed or self.outcome.get(keyword) not in ("results", "no_results"):
            self.outcome[keyword] = outcome

    def _refuse(self, url: str, why: str, where: str) -> None:
        self.health.refused_urls += 1
        if len(self.health.refused) < 20:
            self.health.refused.append(f"{where} {url[:200]}: {why}"[:400])
        self.logger.warning("refused %s %s: %s", where, url, why)

    def _fail(self, status: str, reason: str) -> None:
        if self.health.status == "ok":
            self.health.status = status
            self.health.reason = reason
        raise CloseSpider(status)


