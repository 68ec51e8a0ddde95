"""Refuses every request, and every browser page's final URL, that ``crawler.urls`` says
the marketplace's profile may not fetch.

The spider checks the URLs it reads off pages; this middleware is the gate behind it:
it sees every request, including those Scrapy's ``RedirectMiddleware`` and
``MetaRefreshMiddleware`` make, so a redirect to another host, to ``file://`` or to a
metadata address is refused the same way as a link to one. It runs before
``RobotsTxtMiddleware``, so not even the refused host's robots.txt is fetched.
"""

from __future__ import annotations

from typing import Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response

from crawler import urls


class RefusedUrl(IgnoreRequest):
    """Raised by ``UrlPolicyMiddleware`` (and the browser download handler) for a URL the
    profile's policy refuses; the request's errback gets it, ``reason`` says why."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"refused {url[:200]}: {reason}")


class UrlPolicyMiddleware:
    """Settings: ``BRANDSWEEP_BASE_URL`` and ``BRANDSWEEP_ALLOWED_HOSTS`` (the profile's
    ``base_url`` and ``allowed_hosts``); without a base URL it is not configured."""

    def __init__(self, policy: urls.UrlPolicy) -> None:
        self.policy = policy

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        base = crawler.settings.get("BRANDSWEEP_BASE_URL")
        if not base:
            raise NotConfigured("no BRANDSWEEP_BASE_URL: no URL policy to apply")
        return cls(urls.UrlPolicy.from_base(base, crawler.settings.getlist(
            "BRANDSWEEP_ALLOWED_HOSTS")))

    def process_request(self, request: Request) -> None:
        why = self.policy.refusal(request.url)
        if why is not None:
            redirects = request.meta.get("redirect_urls")
            if redirects:
                why = f"redirected from {redirects[-1][:200]}: {why}"
            raise RefusedUrl(request.url, why)

    def process_response(self, request: Request, response: Response) -> Response:
        location = response.headers.get(b"Location") if 300 <= response.status < 400 \
            else None
        if location:
            # a redirect RedirectMiddleware would not follow (to file:, say) reaches us
            # as the 3xx itself: refused the same way as one it followed
            target = response.urljoin(location.decode("latin-1"))
            why = self.policy.refusal(target)
            if why is not None:
                raise RefusedUrl(target, f"redirected from {request.url[:200]}: {why}")
        # a browser follows redirects and scripts navigate: what counts is where it ended
        if response.url != request.url:
            why = self.policy.refusal(response.url)
            if why is not None:
                raise RefusedUrl(response.url, f"the page went from {request.url[:200]} "
                                 f"to {response.url[:200]}: {why}")
        return response

