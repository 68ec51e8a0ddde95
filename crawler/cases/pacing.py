"""How evidence capture paces itself on a marketplace: a browser context per marketplace
with its profile's ``politeness`` (pages at once, delay between loads), the limits on all
of them together, and retries with backoff (``Retry-After`` honoured, bounded)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from crawler import urls
from crawler.profiles.model import MarketplaceProfile

# pages at once over all marketplaces: on 2 cores, 4 leaves them idle while pages wait on
# the network and Playwright's round trips (bench/evidence_shotscraper.py); 8 gains no more
CONCURRENCY = 6


PAGE_TIMEOUT = 30.0  # seconds for a listing page to load


MAX_REDIRECTS = 5  # hops followed from a listing URL (or its first image)


RETRY_STATUS = frozenset({429})  # and every 5xx


@dataclass(frozen=True)
class Retries:
    """How a page that failed for a reason that may pass is tried again in the same run."""

    attempts: int = 4  # in all, the first one included
    backoff: float = 1.0  # first wait (seconds); doubled each time, with jitter
    backoff_max: float = 30.0
    retry_after_max: float = 60.0  # a longer Retry-After is cut to this


class Retryable(Exception):
    """A failure that may pass: 429, 5xx, a time-out, a dropped connection."""

    def __init__(self, why: str, retry_after: float | None = None) -> None:
        super().__init__(why)
        self.retry_after = retry_after


class Market:
    """One marketplace's share of the capture: its context, pages and politeness."""

    def __init__(self, profile: MarketplaceProfile, context: Any, cap: int,
                 timeout: float) -> None:
        self.profile = profile
        self.timeout_ms = timeout * 1000
        self.policy = urls.for_profile(profile)
        self.context = context
        self.slots = asyncio.Semaphore(max(1, min(profile.politeness.concurrency, cap)))
        self.delay = profile.politeness.delay
        self.next_start = 0.0
        self.turns = asyncio.Lock()
        self.pages: list[Any] = []  # idle pages, reused: a new one per listing costs more
        self.notes: dict[Any, tuple[str, str]] = {}  # page -> (kind, detail) from routing

    async def ready(self) -> None:
        """Wait (before a page is taken) until the marketplace's next turn is due."""
        wait = self.next_start - asyncio.get_running_loop().time()
        if wait > 0:
            await asyncio.sleep(wait)

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """One document request: with a delay, the next one leaves ``delay`` seconds after
        this one's answer came, so the marketplace sees at least that gap."""
        if self.delay <= 0:
            await self.ready()
            yield
            return
        async with self.turns:
            await self.ready()
            try:
                yield
            finally:
                self.next_start = max(self.next_start,
                                      asyncio.get_running_loop().time() + self.delay)

    def hold(self, seconds: float) -> None:
        """The marketplace asked for a pause (``Retry-After``): every page waits for it."""
        self.next_start = max(self.next_start, asyncio.get_running_loop().time() + seconds)

    async def route(self, route: Any) -> None:
        """Every request of this marketplace's pages: documents must pass the URL policy;
        the main frame's document is fetched here without following redirects, so each
        hop is checked before it is requested (Playwright does not route redirect hops)."""
        request = route.request
        try:
            frame = request.frame
            page, main = frame.page, frame.parent_frame is None
        except Exception:  # a service worker's request has no frame
            page, main = None, False
        if request.resource_type != "document":
            host = urlsplit(request.url).hostname or ""
            kind = urls.host_class(host) if request.url.startswith(("http:", "https:")) \
                else "public"
            # third-party images and scripts draw the page, but never an internal address
            if kind == "forbidden" or (kind == "local" and not self.policy.local_ok):
                await route.abort("blockedbyclient")
            else:
                await route.continue_()
            return
        why = self.policy.refusal(request.url)
        if why is not None:
            if main and page is not None:
                self.notes[page] = ("refused", f"{request.url!r} refused: {why}")
            await route.abort("blockedbyclient")
            return
        if not (main and request.is_navigation_request()):
            await route.continue_()
            return
        try:
            async with self.turn():
                response = await route.fetch(max_redirects=0, timeout=self.timeout_ms)
            location = response.headers.get("location")
            if 300 <= response.status < 400 and location:
                # an empty page in its place: aborting would leave Chromium's error page
                # loading, which the next hop's navigation interrupts
                self.notes[page] = ("redirect", urljoin(request.url, location))
                await route.fulfill(status=200, content_type="text/html", body="")
            else:
                await route.fulfill(response=response)
        except Exception as exc:  # refused, reset, timed out, or the page closed meanwhile
            self.notes[page] = ("error", f"{request.url}: {first_line(exc)}")
            with contextlib.suppress(Exception):
                await route.abort("connectionfailed")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"

