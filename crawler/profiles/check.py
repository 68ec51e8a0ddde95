"""``brandsweep marketplaces check``: fetch one search page, show what each selector finds.

What a person runs while writing or repairing a profile: no store, no Scrapy, one page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.error import HTTPError, URLError
from urllib.parse import urljoin
from urllib.request import HTTPRedirectHandler, Request, build_opener

from lxml import etree
from parsel import Selector

from crawler import urls
from crawler.exceptions import UrlRefused
from crawler.extract import fields as extract
from crawler.extract import markers
from crawler.extract.normalize import parse_price
from crawler.profiles.model import MarketplaceProfile
from crawler.settings import DEFAULTS

SHOW_CARDS = 3


@dataclass
class CheckReport:
    profile: MarketplaceProfile
    url: str
    mode: str
    status: int = 0
    cards: int = 0
    blocked: str | None = None
    no_results: bool = False
    samples: list[dict[str, extract.Value]] = field(default_factory=list)
    fill: dict[str, int] = field(default_factory=dict)  # field -> cards where it was found
    next_page: str | None = None
    error: str | None = None
    hint: str | None = None
    # --detail: the first card's own page and what the profile's detail fields find there
    detail_url: str | None = None
    detail_status: int = 0
    detail: dict[str, extract.Value] = field(default_factory=dict)
    detail_error: str | None = None

    @property
    def ok(self) -> bool:
        required = ("listing_id", "url", "title")
        return not self.error and not self.blocked and not self.detail_error and (
            self.no_results or (self.cards > 0 and all(
                self.fill.get(f, 0) == self.cards for f in required)))

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 3

    def lines(self) -> list[str]:
        out = [f"{self.profile.name}: {self.url} ({self.mode}, HTTP {self.status})"]
        if self.error:
            return [*out, f"  error: {self.error}"]
        if self.blocked:
            out.append(f"  BLOCKED: {self.blocked}")
        out.append(f"  cards ({self.profile.listing.card}): {self.cards}"
                   + ("  [the 'no results' message is shown]" if self.no_results else ""))
        for name, spec in self.profile.listing.fields.items():
            where = spec.css or spec.xpath or spec.jsonld or spec.jsonpath
            out.append(f"  {name:<16} {self.fill.get(name, 0):>3}/{self.cards}  {where}")
        for i, sample in enumerate(self.samples, 1):
            out.append(f"  card {i}:")
            out.extend(self._value_lines(sample))
        if self.detail_url or self.detail_error:
            out.append(f"  detail page: {self.detail_url or '-'}"
                       + (f" (HTTP {self.detail_status})" if self.detail_status else ""))
            if self.detail_error:
                out.append(f"    error: {self.detail_error}")
            for name, spec in self.profile.detail.fields.items():
                where = spec.css or spec.xpath or spec.jsonld or spec.jsonpath
                found = "found" if self.detail.get(name) not in (None, []) else "MISSING"
                out.append(f"    {name:<16} {found:<8} {where}")
            out.extend(self._value_lines(self.detail))
        if self.next_page:
            out.append(f"  next page: {self.next_page}")
        if self.hint:
            out.append(f"  hint: {self.hint}")
        out.append("  result: " + ("ok" if self.ok else "PROBLEM: fix the selectors above"))
        return out


    def _value_lines(self, values: dict[str, extract.Value]) -> list[str]:
        """Each value as extracted; a price also as brandsweep reads it."""
        out = []
        for k, v in values.items():
            line = f"    {k}: {v!r}"
            if k == "price" and isinstance(v, str):
                low, high, currency = parse_price(v, self.profile.currency)
                read = "no price" if low is None else (
                    f"{low}{f' - {high}' if high is not None else ''} {currency}")
                line += f"  -> {read}"
            out.append(line)
        return out


class _PolicyRedirects(HTTPRedirectHandler):
    """Follows a redirect only to a URL the profile's policy allows."""

    def __init__(self, policy: urls.UrlPolicy) -> None:
        self.policy = policy

    def redirect_request(self, req: Request, fp: IO[bytes], code: int, msg: str,
                         headers: Any, newurl: str) -> Request | None:
        if (why := self.policy.refusal(newurl)) is not None:
            raise UrlRefused(f"{req.full_url} redirects to {newurl}, which the profile does "
                             f"not allow: {why}; add the host to allowed_hosts if it is "
                             "the marketplace's own")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _http(url: str, timeout: float, policy: urls.UrlPolicy) -> tuple[int, str]:
    req = Request(url, headers={"User-Agent": DEFAULTS["USER_AGENT"]})  # noqa: S310
    opener = build_opener(_PolicyRedirects(policy))
    try:
        with opener.open(req, timeout=timeout) as r:  # the policy allowed this URL
            raw, status = r.read(), r.status
            charset = r.headers.get_content_charset() or "utf-8"
    except HTTPError as e:
        raw, status, charset = e.read(), e.code, "utf-8"
    try:
        return status, raw.decode(charset, errors="replace")
    except LookupError:  # a charset Python does not know
        return status, raw.decode("utf-8", errors="replace")


async def _browser(profile: MarketplaceProfile, url: str, timeout: float,
                   policy: urls.UrlPolicy) -> tuple[int, str]:
    from playwright.async_api import async_playwright

    from crawler.browser.chromium import launch_options
    from crawler.browser.pages import CONTEXT_KWARGS, abort_heavy_request, guard_page
    from crawler.browser.settle import settle

    async with async_playwright() as p:
        browser = await p.chromium.launch(**launch_options())  # type: ignore[arg-type]
        try:
            page = await browser.new_page(**CONTEXT_KWARGS)
            await guard_page(page)  # no WebSockets, popups or service workers, as in sweeps
            refused: list[str] = []

            async def route(route: Any) -> None:
                request = route.request
                why = policy.refusal(request.url)
                if why is not None or abort_heavy_request(request):
                    if why is not None and request.is_navigation_request():
                        refused.append(f"{request.url}, which the profile does not allow: "
                                       f"{why}")
                    await route.abort()
                elif request.is_navigation_request():
                    # Chromium follows redirects without asking the route again: fetch
                    # the page here, redirects unfollowed, and judge where one points
                    answer = await route.fetch(max_redirects=0)
                    target = urljoin(request.url, answer.headers.get("location", ""))
                    if 300 <= answer.status < 400 and (why := policy.refusal(target)):
                        refused.append(f"{target} (a redirect), which the profile does not "
                                       f"allow: {why}")
                        await route.abort()
                    else:
                        await route.fulfill(response=answer)
                else:
                    await route.continue_()

            await page.route("**/*", route)
            try:
                response = await page.goto(url, timeout=timeout * 1000)
            except Exception:
                if refused:
                    raise UrlRefused(f"{url} leads to {refused[0]}") from None
                raise
            if refused:
                raise UrlRefused(f"{url} leads to {refused[0]}")
            if (why := policy.refusal(page.url)) is not None:  # however it got there
                raise UrlRefused(f"{url} leads to {page.url}, which the profile does not "
                                 f"allow: {why}")
            await settle(page, profile, max_pages=1)
            return (response.status if response else 0), await page.content()
        finally:
            await browser.close()


def run(profile: MarketplaceProfile, keyword: str, use_browser: bool | None = None,
        timeout: float = 30, detail: bool = False) -> CheckReport:
    """Fetch the first search page for ``keyword`` and report what extraction finds;
    with ``detail``, also the first card's own page and what the detail fields find."""
    import asyncio

    url = profile.search_url(keyword)
    policy = urls.for_profile(profile)
    if (why := policy.refusal(url)) is not None:
        raise UrlRefused(f"{profile.source or profile.name}: search URL {url} may not be "
                         f"fetched: {why}")
    browser = use_browser if use_browser is not None else profile.search.render == "browser"
    report = CheckReport(profile, url, "browser" if browser else "http")
    try:
        if browser:
            report.status, html = asyncio.run(_browser(profile, url, timeout, policy))
        else:
            report.status, html = _http(url, timeout, policy)
    except UrlRefused:
        raise
    except (URLError, OSError, TimeoutError) as exc:
        report.error = f"cannot fetch {url}: {exc}"
        return report
    except Exception as exc:
        lines = str(exc).splitlines() or [type(exc).__name__]
        report.error = f"browser could not load {url}: {lines[0]}"
        return report
    try:
        _read(report, html, browser)
    except (etree.XPathError, re.error) as exc:  # an EXSLT regex fails on real text only
        report.error = (f"a selector of {profile.source or profile.name} fails on this "
                        f"page: {exc}; fix it and check again")
    if detail and not report.error:
        _detail(report, policy, timeout)
    return report


def _detail(report: CheckReport, policy: urls.UrlPolicy, timeout: float) -> None:
    """Fetch the first card's page over HTTP (as sweeps do) and read its detail fields."""
    profile = report.profile
    first = report.samples[0].get("url") if report.samples else None
    if not isinstance(first, str) or not first:
        report.detail_error = "no card with a URL on this page, so no detail page to check"
        return
    url = urljoin(report.url, first)
    report.detail_url = url
    if not profile.detail.fields:
        report.detail_error = (f"{profile.source or profile.name} has no detail.fields: "
                               "add the fields to read from a listing's own page")
        return
    if (why := policy.refusal(url)) is not None:
        raise UrlRefused(f"{report.url}: the first card links to {url}, which may not be "
                         f"fetched: {why}")
    try:
        report.detail_status, html = _http(url, timeout, policy)
    except (URLError, OSError, TimeoutError) as exc:
        report.detail_error = f"cannot fetch {url}: {exc}"
        return
    sel = Selector(text=html)
    if (hit := markers.blocked_marker(profile, html, page=sel)) is not None:
        report.detail_error = f"blocked page ({hit!r} found)"
        return
    try:
        report.detail = extract.fields(profile.detail.fields, sel, extract.json_ld(sel))
    except (etree.XPathError, re.error) as exc:
        report.detail_error = f"a detail selector fails on this page: {exc}"


def _read(report: CheckReport, html: str, browser: bool) -> None:
    """What the profile's selectors find on the page, into ``report``."""
    profile = report.profile
    sel = Selector(text=html)
    hit = markers.blocked_marker(profile, html, page=sel)
    report.blocked = f"{hit!r} found on the page" if hit else None
    cards = extract.select(profile.listing.card, sel)
    report.cards = len(cards)
    report.no_results = markers.no_results_shown(profile, sel)
    for i, card in enumerate(cards):
        values = extract.fields(profile.listing.fields, card)
        for name, value in values.items():
            report.fill[name] = report.fill.get(name, 0) + (value not in (None, []))
        if i < SHOW_CARDS:
            report.samples.append(values)
    nxt = profile.search.pagination.next
    if nxt is not None:
        found = extract.field(nxt, sel)
        report.next_page = found if isinstance(found, str) else None
    if not cards and not report.no_results and not browser and profile.search.render == "auto":
        report.hint = ("no listings over HTTP and no 'no results' message: either the "
                       "page needs a browser (run again with --browser) or its layout "
                       "changed (fix the selectors above)")
