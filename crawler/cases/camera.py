"""The browser side of evidence capture: one Chromium, a context per marketplace with its
profile's politeness, every request checked against the URL policy (redirects hop by
hop), retries with backoff for 429, 5xx and time-outs, and a full-page screenshot, the
HTML as served and the first image of each listing page.

Once a page has loaded, what is left is done in few steps, because each step of
Playwright's own (``page.content()``, ``page.screenshot()``) is several round trips and
runs Playwright's injected scripts in the page: one script in an isolated world of the
page (the page's own scripts can neither see nor change it) waits for the images and
fonts and returns the DOM and the page's size; then Chromium's ``Page.captureScreenshot``
takes the full page, its PNG encoded for speed (lossless still; larger files). The first
image is fetched while that goes on."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from crawler.browser.pages import CONTEXT_KWARGS, guard_page
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

IMAGE_WAIT = 10.0  # seconds, at most, for the images of a page drawn by scripts
WORLD = "brandsweep-evidence"  # the isolated world the settling script runs in

# Run in the isolated world once the page has loaded (and shows ``wait_for``): waits,
# polling, until every image the page will load without being scrolled to has loaded or
# failed (the load event does not wait for those its scripts added since) and for the
# fonts, both within ``limit`` ms; then the DOM as it is and the full page's size (as
# Playwright measures it for a full-page screenshot).
SETTLE = """(async (limit) => {
  const end = performance.now() + limit;
  const pause = (ms) => new Promise((done) => setTimeout(done, ms));
  const waiting = () => [...document.images].some((i) => !i.complete && i.loading !== "lazy");
  while (waiting() && performance.now() < end) await pause(50);
  const left = end - performance.now();
  if (left > 0 && document.fonts) await Promise.race([document.fonts.ready, pause(left)]);
  const d = document.documentElement, b = document.body;
  const size = (k) => Math.max(b ? b[k] : 0, d ? d[k] : 0);
  return {html: d ? d.outerHTML : "",
          width: Math.max(size("scrollWidth"), size("offsetWidth"), size("clientWidth")),
          height: Math.max(size("scrollHeight"), size("offsetHeight"), size("clientHeight"))};
})"""
WIDTH, HEIGHT = 1280, 900  # the viewport


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


@dataclass
class Tab:
    """A page kept for the next listing, and its DevTools session (for the steps
    Playwright takes several round trips for)."""

    page: Any
    cdp: Any


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
        # frames at Chromium's own pace: evidence does not scroll lists into view (what
        # the sweeps' unlimited frame rate is for), and unlimited frames cost CPU
        options = launch_options(chromium, fast_frames=False)
        browser = await pw.chromium.launch(**options)  # type: ignore[arg-type]
        try:
            markets: dict[str, Market] = {}
            for name, profile in profiles.items():
                # no service workers: their requests pass no route of ours
                context = await browser.new_context(
                    viewport={"width": WIDTH, "height": HEIGHT}, **CONTEXT_KWARGS)
                markets[name] = Market(profile, context, CONCURRENCY, page_timeout)
                await context.route("**/*", markets[name].route)

            async def attempt(job: Job) -> Shot:
                market = markets[job.market]
                async with market.slots:
                    await market.ready()
                    async with overall:
                        tab = market.pages.pop() if market.pages else await _open(market)
                        try:
                            shot = await _shoot(market, tab, job, page_timeout)
                        except BaseException as exc:
                            if isinstance(exc, Retryable) and exc.retry_after is not None:
                                # the marketplace asked for a pause: all its pages wait
                                market.hold(min(exc.retry_after, retries.retry_after_max))
                            market.notes.pop(tab.page, None)
                            with contextlib.suppress(Exception):
                                await tab.page.close()  # in an unknown state: not reused
                            raise
                        market.pages.append(tab)
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


async def _open(market: Market) -> Tab:
    page = await market.context.new_page()
    try:
        await guard_page(page)  # no WebSockets or popups: no route of ours sees them
        return Tab(page, await market.context.new_cdp_session(page))
    except BaseException:
        with contextlib.suppress(Exception):
            await page.close()
        raise


async def _shoot(market: Market, tab: Tab, job: Job, timeout: float) -> Shot:
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    from crawler.downloadermiddlewares.retry import _retry_after

    page = tab.page
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
    profile = market.profile
    if status >= 400:  # whatever the status: a wall is not retried at once
        _blocked(markers.blocked_marker(profile, (await response.body()).decode(
            "utf-8", "replace")))
        if status in RETRY_STATUS or status >= 500:
            raise Retryable(f"{url}: HTTP {status}",
                             _retry_after(response.headers.get("retry-after") or ""))
        raise Failed(f"{url}: HTTP {status}: the listing may be gone already")

    async def served() -> tuple[bytes, str | None, tuple[bytes | None, str | None]]:
        """The HTML as served, the blocked marker it shows, and (unless it shows one)
        the first image."""
        body = await response.body()
        hit = markers.blocked_marker(profile, body.decode("utf-8", "replace"))
        if job.image_url is None or hit is not None:
            return body, hit, (None, None)
        return body, hit, await _image(market, job.image_url, ms)

    # the HTML as served and the first image come while the page settles; a page that
    # fails takes them along
    fetching = asyncio.ensure_future(served())
    try:
        wait_for = profile.evidence.wait_for
        if wait_for:
            try:  # a blocked page shows instead of the listing: stop waiting for it then
                await page.wait_for_selector(
                    ", ".join([wait_for, *profile.blocked.selectors]), timeout=ms)
            except PlaywrightTimeout as exc:
                _blocked((await fetching)[1])
                hit = markers.blocked_marker(profile, await page.content())
                if hit is not None:
                    raise Blocked(repr(hit)) from exc
                raise Retryable(f"{url}: {wait_for!r} did not show in {timeout:g}s") from exc
        # images the page's scripts added (the product photo of an app) are waited for,
        # bounded and never fatal: a photo that does not come is left out
        settled = await _settle(tab, url, min(timeout, IMAGE_WAIT), timeout)
        html, hit, (image, note) = await fetching
        _blocked(hit)
        _blocked(markers.blocked_marker(profile, settled["html"]))  # drawn by its scripts
        at = now()
        png = await _screenshot(tab, url, settled, timeout)
    finally:
        if not fetching.done():
            fetching.cancel()
    return Shot(job, status, response.url, png, html, image, note, at)


def _blocked(hit: str | None) -> None:
    """``Blocked`` when the page shows one of its profile's blocked markers (``hit``)."""
    if hit is not None:
        raise Blocked(repr(hit))


async def _within(step: Awaitable[Any], seconds: float, what: str) -> Any:
    """``step``, or ``Retryable`` when it takes more than ``seconds`` (a page whose
    scripts keep its main thread busy)."""
    try:
        return await asyncio.wait_for(step, seconds)
    except TimeoutError as exc:
        raise Retryable(f"{what} took more than {seconds:g}s") from exc


async def _settle(tab: Tab, url: str, wait: float, timeout: float) -> dict[str, Any]:
    """Run ``SETTLE`` in an isolated world of the page's main frame: the DOM and the full
    page's size, once its images and fonts are in (or ``wait`` seconds passed)."""
    async def run() -> dict[str, Any]:
        tree = await tab.cdp.send("Page.getFrameTree")
        world = await tab.cdp.send("Page.createIsolatedWorld", {
            "frameId": tree["frameTree"]["frame"]["id"], "worldName": WORLD})
        got = await tab.cdp.send("Runtime.evaluate", {
            "expression": f"{SETTLE}({wait * 1000:.0f})", "contextId":
            world["executionContextId"], "awaitPromise": True, "returnByValue": True})
        if "exceptionDetails" in got:
            raise Failed(f"{url}: the page could not be measured: "
                         f"{got['exceptionDetails'].get('text', '')}")
        value: dict[str, Any] = got["result"]["value"]
        return value
    settled: dict[str, Any] = await _within(run(), timeout, f"{url}: settling the page")
    return settled


async def _screenshot(tab: Tab, url: str, settled: dict[str, Any], timeout: float) -> bytes:
    """The full page as a PNG (as Playwright's ``full_page`` takes it: the document from
    its top-left corner, beyond the viewport when it is larger), encoded for speed."""
    width, height = max(1, int(settled["width"])), max(1, int(settled["height"]))
    fits = width <= WIDTH and height <= HEIGHT
    got = await _within(tab.cdp.send("Page.captureScreenshot", {
        "format": "png", "optimizeForSpeed": True, "captureBeyondViewport": not fits,
        "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}}),
        timeout, f"{url}: the screenshot")
    return base64.b64decode(got["data"])


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

