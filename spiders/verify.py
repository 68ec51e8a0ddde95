"""The re-check spider: fetches submitted listings' pages on one marketplace and reads
each as ``removed``, ``still_live`` or ``blocked`` through the marketplace's profile. A
stored URL that ``crawler.urls`` refuses (or a redirect to one) is never fetched: its
verdict is ``refused``, which changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import scrapy
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from crawler import urls
from crawler.downloadermiddlewares.urlpolicy import RefusedUrl
from crawler.extract import markers
from crawler.profiles.model import MarketplaceProfile


class VerifySpider(scrapy.Spider):
    name = "verify"
    custom_settings = {"HTTPERROR_ALLOW_ALL": True}  # noqa: RUF012  (a 404 is an answer)

    def __init__(self, profile: MarketplaceProfile, targets: list[tuple[int, str]],
                 **kwargs: Any) -> None:
        super().__init__(name=f"verify-{profile.name}", **kwargs)
        self.profile = profile
        self.targets = targets
        self.verdicts: dict[int, tuple[str, str]] = {}  # case id -> (verdict, detail)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        policy = urls.for_profile(self.profile)
        for case_id, url in self.targets:
            why = policy.refusal(url)
            if why is not None:
                self.verdicts[case_id] = ("refused", f"{url[:200]}: {why}")
                continue
            yield scrapy.Request(url, callback=self.parse, errback=self.on_error,
                                 meta={"case": case_id}, dont_filter=True)

    def parse(self, response: Response) -> None:
        self.verdicts[response.meta["case"]] = read(self.profile, response.status,
                                                    response)

    def on_error(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        if isinstance(failure.value, RefusedUrl):
            self.verdicts[request.meta["case"]] = ("refused", f"{failure.value.url[:200]}: "
                                                   f"{failure.value.reason}")
            return
        self.verdicts[request.meta["case"]] = ("error", failure.getErrorMessage()[:200])


def read(profile: MarketplaceProfile, status: int, response: Response) -> tuple[str, str]:
    """What a listing page says: (verdict, detail)."""
    removed = profile.removed
    if status in removed.status:
        return "removed", f"HTTP {status}"
    if not isinstance(response, TextResponse):
        return "error", f"HTTP {status}: not a web page"
    if not response.text.strip():  # an empty page proves nothing either way
        return "error", f"HTTP {status}: an empty page"
    ctype = (response.headers.get(b"Content-Type") or b"text/html").decode("latin-1")
    hit = markers.blocked_marker(profile, response.text, ctype, page=response)
    if hit is not None:
        return "blocked", f"HTTP {status}, {hit!r} on the page"
    body = response.text.casefold()
    hit = next((s for s in removed.selectors if response.css(s)), None) or next(
        (t for t in removed.text if t.casefold() in body), None)
    if hit is not None:
        return "removed", f"HTTP {status}, {hit!r} on the page"
    if status >= 400:
        return "error", f"HTTP {status}"
    return "still_live", f"HTTP {status}"
