"""The browser side of evidence capture: one Chromium, a context per marketplace with its
profile's politeness, every request checked against the URL policy (redirects hop by
hop), retries with backoff for 429, 5xx and time-outs, and a full-page screenshot, the
HTML as served and the first image of each listing page."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from crawler import urls
from crawler.extract import markers
from crawler.profiles.model import MarketplaceProfile
from crawler.store import now

CONCURRENCY = 4  # pages at once over all marketplaces: the 2-core machine is busy beyond



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



@dataclass
class Job:
    case_id: int
    market: str
    url: str
    image_url: str | None
    title: str
    price: str | None
    currency: str | None



@dataclass
class Shot:
    job: Job
    status: int
    final_url: str
    png: bytes
    html: bytes
    image: bytes | None
    image_note: str | None  # why the first image is missing, when it is
    at: str



class _Retryable(Exception):
    """A failure that may pass: 429, 5xx, a time-out, a dropped connection."""

    def __init__(self, why: str, retry_after: float | None = None) -> None:
        super().__init__(why)
        self.retry_after = retry_after



class Refused(Exception):
    """A URL the profile's policy does not allow; never fetched, never retried."""



class Blocked(Exception):
    """The page shows one of the profile's blocked markers."""



class Failed(Exception):
    """A failure retrying now will not fix (404, too many redirects); the next run tries."""



class _Market:
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
            self.notes[page] = ("error", f"{request.url}: {_first_line(exc)}")
            with contextlib.suppress(Exception):
                await route.abort("connectionfailed")



def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"



async def run(jobs: list[Job], profiles: dict[str, MarketplaceProfile], chromium: str,
               keep: Callable[[Job, Shot | Exception], None], retries: Retries,
               page_timeout: float) -> None:
    from playwright.async_api import async_playwright
    from tenacity import (
        AsyncRetrying,
        retry_if_exception_type,
        stop_after_attempt,
        wait_exponential_jitter,
    )

    from crawler.browser.chromium import launch_options

    backoff = wait_exponential_jitter(multiplier=retries.backoff, max=retries.backoff_max)

    def wait(state: Any) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            return min(max(exc.retry_after, 0.0), retries.retry_after_max)
        return float(backoff(state))

    overall = asyncio.Semaphore(min(CONCURRENCY, len(jobs)))
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(**launch_options(chromium))  # type: ignore[arg-type]
        try:
            markets: dict[str, _Market] = {}
            for name, profile in profiles.items():
                context = await browser.new_context(viewport={"width": 1280, "height": 900})
                markets[name] = _Market(profile, context, CONCURRENCY, page_timeout)
                await context.route("**/*", markets[name].route)

            async def attempt(job: Job) -> Shot:
                market = markets[job.market]
                async with market.slots:
                    await market.ready()
                    async with overall:
                        page = market.pages.pop() if market.pages else \
                            await market.context.new_page()
                        try:
                            shot = await _shoot(market, page, job, page_timeout)
                        except BaseException as exc:
                            if isinstance(exc, _Retryable) and exc.retry_after is not None:
                                # the marketplace asked for a pause: all its pages wait
                                market.hold(min(exc.retry_after, retries.retry_after_max))
                            market.notes.pop(page, None)
                            with contextlib.suppress(Exception):
                                await page.close()  # a page in an unknown state is not reused
                            raise
                        market.pages.append(page)
                        return shot

            async def one(job: Job) -> None:
                outcome: Shot | Exception
                try:
                    async for trying in AsyncRetrying(
                            stop=stop_after_attempt(retries.attempts), wait=wait,
                            retry=retry_if_exception_type(_Retryable), reraise=True):
                        with trying:
                            outcome = await attempt(job)
                except _Retryable as exc:
                    outcome = Failed(f"{exc} (after {retries.attempts} attempts)")
                except (Refused, Blocked, Failed) as exc:
                    outcome = exc
                except Exception as exc:  # one bad page must not stop the others
                    outcome = Failed(_first_line(exc))
                keep(job, outcome)

            await asyncio.gather(*(one(job) for job in jobs))
            for market in markets.values():
                await market.context.close()
        finally:
            await browser.close()



async def _shoot(market: _Market, page: Any, job: Job, timeout: float) -> Shot:
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    from crawler.downloadermiddlewares.retry import _retry_after

    ms = timeout * 1000
    url = job.url
    for _hop in range(MAX_REDIRECTS + 1):
        why = market.policy.refusal(url)
        if why is not None:
            raise Refused(f"{url!r} refused: {why}" if url == job.url else
                           f"{job.url} redirects to {url!r}, refused: {why}")
        market.notes.pop(page, None)
        try:
            response = await page.goto(url, wait_until="load", timeout=ms)
        except PlaywrightError as exc:
            kind, detail = market.notes.pop(page, ("", ""))
            if kind == "refused":
                raise Refused(detail) from exc
            if kind == "error" or isinstance(exc, PlaywrightTimeout) or "net::ERR_" in str(
                    exc):
                raise _Retryable(detail or _first_line(exc)) from exc
            raise
        kind, detail = market.notes.pop(page, ("", ""))
        if kind != "redirect":
            break
        url = detail
    else:
        raise Failed(f"{job.url}: more than {MAX_REDIRECTS} redirects")
    if response is None:
        raise Failed(f"{url}: the page gave no response")
    why = market.policy.refusal(response.url)
    if why is not None:  # routing should have stopped it; never save what it missed
        raise Refused(f"{job.url} ended at {response.url!r}, refused: {why}")
    status = response.status
    html = await response.body()
    profile = market.profile
    hit = markers.blocked_marker(profile, html.decode("utf-8", "replace"))
    if hit is not None:  # whatever the status: a wall is not retried at once
        raise Blocked(repr(hit))
    if status in RETRY_STATUS or status >= 500:
        raise _Retryable(f"{url}: HTTP {status}",
                         _retry_after(response.headers.get("retry-after") or ""))
    if status >= 400:
        raise Failed(f"{url}: HTTP {status}: the listing may be gone already")
    wait_for = profile.evidence.wait_for
    if wait_for:
        try:  # a blocked page shows instead of the listing: stop waiting for it then
            await page.wait_for_selector(", ".join([wait_for, *profile.blocked.selectors]),
                                         timeout=ms)
        except PlaywrightTimeout as exc:
            hit = markers.blocked_marker(profile, await page.content())
            if hit is not None:
                raise Blocked(repr(hit)) from exc
            raise _Retryable(f"{url}: {wait_for!r} did not show in {timeout:g}s") from exc
    hit = markers.blocked_marker(profile, await page.content())  # drawn by the page's scripts
    if hit is not None:
        raise Blocked(repr(hit))
    at = now()
    png = await page.screenshot(full_page=True, type="png")
    image, note = (await _image(market, job.image_url, ms)) if job.image_url else (None, None)
    return Shot(job, status, response.url, png, html, image, note, at)



async def _image(market: _Market, url: str, ms: float) -> tuple[bytes | None, str | None]:
    """The first image's bytes (redirects followed hop by hop, each checked), or None and
    why. The API request context is not routed, hence the checks here."""
    for _hop in range(MAX_REDIRECTS + 1):
        why = market.policy.refusal(url)
        if why is not None:
            return None, f"image {url!r} refused: {why}"
        try:
            got = await market.context.request.get(url, timeout=ms, max_redirects=0)
        except Exception as exc:
            return None, f"image {url}: {_first_line(exc)}"
        location = got.headers.get("location")
        if 300 <= got.status < 400 and location:
            url = urljoin(url, location)
            continue
        return (await got.body(), None) if got.ok else (None, f"image {url}: HTTP {got.status}")
    return None, f"image: more than {MAX_REDIRECTS} redirects"

