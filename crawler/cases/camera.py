"""The browser side of evidence capture: one Chromium, a context per marketplace with its
profile's politeness, every request checked against the URL policy (redirects hop by
hop), retries with backoff for 429, 5xx and time-outs, and a full-page screenshot, the
HTML as served and the first image of each listing page."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from crawler.cases.pacing import (
    CONCURRENCY,
    MAX_REDIRECTS,
    RETRY_STATUS,
    Market,
    Retries,
    Retryable,
    first_line,
)
from crawler.extract import markers
from crawler.profiles.model import MarketplaceProfile
from crawler.store import now

# every image the page will load without being scrolled to has loaded or failed
IMAGES_LOADED = """() => [...document.images].every((i) => i.complete || i.loading === "lazy")"""
IMAGE_WAIT = 10.0  # seconds, at most, for the images of a page drawn by scripts


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


class Refused(Exception):
    """A URL the profile's policy does not allow; never fetched, never retried."""


class Blocked(Exception):
    """The page shows one of the profile's blocked markers."""


class Failed(Exception):
    """A failure retrying now will not fix (404, too many redirects); the next run tries."""


async def run(jobs: list[Job], profiles: dict[str, MarketplaceProfile], chromium: str,
               keep: Callable[[Job, Shot | Exception], Awaitable[None]], retries: Retries,
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
        if isinstance(exc, Retryable) and exc.retry_after is not None:
            return min(max(exc.retry_after, 0.0), retries.retry_after_max)
        return float(backoff(state))

    overall = asyncio.Semaphore(min(CONCURRENCY, len(jobs)))
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(**launch_options(chromium))  # type: ignore[arg-type]
        try:
            markets: dict[str, Market] = {}
            for name, profile in profiles.items():
                context = await browser.new_context(viewport={"width": 1280, "height": 900})
                markets[name] = Market(profile, context, CONCURRENCY, page_timeout)
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
                            if isinstance(exc, Retryable) and exc.retry_after is not None:
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
                            retry=retry_if_exception_type(Retryable), reraise=True):
                        with trying:
                            outcome = await attempt(job)
                except Retryable as exc:
                    outcome = Failed(f"{exc} (after {retries.attempts} attempts)")
                except (Refused, Blocked, Failed) as exc:
                    outcome = exc
                except Exception as exc:  # one bad page must not stop the others
                    outcome = Failed(first_line(exc))
                await keep(job, outcome)

            await asyncio.gather(*(one(job) for job in jobs))
            for market in markets.values():
                await market.context.close()
        finally:
            await browser.close()


async def _shoot(market: Market, page: Any, job: Job, timeout: float) -> Shot:
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
                raise Retryable(detail or first_line(exc)) from exc
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
        raise Retryable(f"{url}: HTTP {status}",
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
            raise Retryable(f"{url}: {wait_for!r} did not show in {timeout:g}s") from exc
    hit = markers.blocked_marker(profile, await page.content())  # drawn by the page's scripts
    if hit is not None:
        raise Blocked(repr(hit))
    # the load event waited for the images the HTML names, not for those the page's
    # scripts added since (the product photo of an app): a screenshot without the photo
    # is poor evidence. Bounded, never fatal: a photo that does not come is left out
    with contextlib.suppress(PlaywrightTimeout):
        await page.wait_for_function(IMAGES_LOADED, polling=50,
                                     timeout=min(ms, IMAGE_WAIT * 1000))
    at = now()
    png = await page.screenshot(full_page=True, type="png")
    image, note = (await _image(market, job.image_url, ms)) if job.image_url else (None, None)
    return Shot(job, status, response.url, png, html, image, note, at)


async def _image(market: Market, url: str, ms: float) -> tuple[bytes | None, str | None]:
    """The first image's bytes (redirects followed hop by hop, each checked), or None and
    why. The API request context is not routed, hence the checks here."""
    for _hop in range(MAX_REDIRECTS + 1):
        why = market.policy.refusal(url)
        if why is not None:
            return None, f"image {url!r} refused: {why}"
        try:
            got = await market.context.request.get(url, timeout=ms, max_redirects=0)
        except Exception as exc:
            return None, f"image {url}: {first_line(exc)}"
        location = got.headers.get("location")
        if 300 <= got.status < 400 and location:
            url = urljoin(url, location)
            continue
        return (await got.body(), None) if got.ok else (None, f"image {url}: HTTP {got.status}")
    return None, f"image: more than {MAX_REDIRECTS} redirects"

