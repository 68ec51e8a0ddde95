"""Evidence: a full-page screenshot and the HTML as served of each case's listing, captured
once in headless Chromium, with the capture time (UTC) and SHA-256 of both files.

Files live in an evidence folder beside the store (``brandsweep.db`` ->
``brandsweep-evidence/``), one folder per case. Each file is written to a temporary name,
flushed and renamed, and only then is the ``evidence`` row inserted, in one transaction
with its audit event: a killed capture leaves at most stray files (overwritten by the next
capture of that case), never a row that points at a missing or half-written file.

Capture is a polite crawler of the marketplaces it visits: each marketplace gets its own
browser context with its profile's ``politeness.concurrency`` pages at once and
``politeness.delay`` seconds between page loads, all of them within ``CONCURRENCY`` pages
in total. 429, 5xx, time-outs and connection errors are retried with exponential backoff
(``Retry-After`` honoured, bounded). Only URLs ``crawler.urls`` allows are fetched: the
listing URL, every redirect hop of it (followed one by one, each checked before it is
requested), other documents the page loads, and the first image. A page showing one of the
profile's ``blocked`` markers (a CAPTCHA served with status 200) is not evidence: nothing is
kept and the next run tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from crawler import urls
from crawler.cases import lifecycle as case_log
from crawler.extract import markers
from crawler.files import write_whole
from crawler.profiles.model import MarketplaceProfile
from crawler.store import Store, now
from crawler.store import cases as case_rows
from crawler.store import evidence as evidence_rows

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


def folder(store_path: Path) -> Path:
    """The evidence folder that belongs to the store at ``store_path``."""
    return store_path.with_name(store_path.stem + "-evidence")


@dataclass
class CaptureResult:
    """What a capture run did; every list holds (case id, why)."""

    captured: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)  # retried, still failing
    blocked: list[tuple[int, str]] = field(default_factory=list)  # a CAPTCHA or bot wall
    refused: list[tuple[int, str]] = field(default_factory=list)  # a URL policy forbids
    no_profile: list[tuple[int, str]] = field(default_factory=list)  # marketplace gone
    pending: int = 0  # cases the next run tries again (failed, blocked, over the limit)

    @property
    def exit_code(self) -> int:
        """3 (partial) when some case could not be captured, else 0."""
        return 3 if (self.failed or self.blocked or self.refused or self.no_profile) else 0


@dataclass
class _Job:
    case_id: int
    market: str
    url: str
    image_url: str | None
    title: str
    price: str | None
    currency: str | None


@dataclass
class _Shot:
    job: _Job
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


class _Refused(Exception):
    """A URL the profile's policy does not allow; never fetched, never retried."""


class _Blocked(Exception):
    """The page shows one of the profile's blocked markers."""


class _Failed(Exception):
    """A failure retrying now will not fix (404, too many redirects); the next run tries."""


def capture(store: Store, profiles: dict[str, MarketplaceProfile], chromium: str,
            brand: str | None = None, by: str = "brandsweep", sweep_id: int | None = None,
            limit: int | None = None,
            progress: Callable[[int, int], None] | None = None,
            retries: Retries | None = None, page_timeout: float = PAGE_TIMEOUT,
            ) -> CaptureResult:
    """Capture evidence for every case (of ``brand``) that has none yet; ``limit`` caps
    the pages fetched. Cases that are refused or lack a profile are counted, not fetched."""
    result = CaptureResult()
    jobs: list[_Job] = []
    missing = evidence_rows.missing(store, brand)
    for case_id, url, images, title, price, currency, market in missing:
        profile = profiles.get(market)
        if profile is None:
            result.no_profile.append((case_id, f"marketplace {market!r} has no profile any "
                                      "more: add it with --marketplaces DIR, or dismiss "
                                      "the case"))
            continue
        why = urls.for_profile(profile).refusal(url)
        if why is not None:
            _refuse(store, case_id, f"listing URL {url!r} refused: {why}", by, sweep_id,
                    result)
            continue
        jobs.append(_Job(case_id, market, url, _first_image(images), title, price,
                         currency))
    result.pending = len(jobs)
    if limit is not None:
        jobs = jobs[:limit]
    if not jobs:
        return result
    base = folder(store.path)

    def keep(job: _Job, outcome: _Shot | Exception) -> None:
        if isinstance(outcome, _Shot):
            _save(store, base, outcome, by, sweep_id)
            result.captured += 1
            result.pending -= 1
        elif isinstance(outcome, _Refused):
            _refuse(store, job.case_id, str(outcome), by, sweep_id, result)
            result.pending -= 1
        elif isinstance(outcome, _Blocked):
            result.blocked.append((job.case_id, f"{job.url}: blocked page ({outcome} found): "
                                   "the marketplace shows a CAPTCHA or bot wall; the next "
                                   "run tries again"))
        else:
            result.failed.append((job.case_id, str(outcome)))
        done.append(job.case_id)
        if progress is not None:
            progress(len(done), len(jobs))

    done: list[int] = []
    asyncio.run(_run(jobs, {j.market: profiles[j.market] for j in jobs}, chromium, keep,
                     retries or Retries(), page_timeout))
    return result


def _refuse(store: Store, case_id: int, why: str, by: str, sweep_id: int | None,
            result: CaptureResult) -> None:
    """Count a refused case and record why in its history, once per distinct reason: the
    URL will not become allowed by trying again, only by a person's change."""
    result.refused.append((case_id, why))
    with store.transaction():
        if not case_rows.has_event(store, case_id, "evidence_refused", why):
            case_log.record(store, case_id, by, "evidence_refused", why, sweep_id)


def _first_image(images: str | None) -> str | None:
    found = json.loads(images) if images else []
    return found[0] if found else None


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


async def _run(jobs: list[_Job], profiles: dict[str, MarketplaceProfile], chromium: str,
               keep: Callable[[_Job, _Shot | Exception], None], retries: Retries,
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

            async def attempt(job: _Job) -> _Shot:
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

            async def one(job: _Job) -> None:
                outcome: _Shot | Exception
                try:
                    async for trying in AsyncRetrying(
                            stop=stop_after_attempt(retries.attempts), wait=wait,
                            retry=retry_if_exception_type(_Retryable), reraise=True):
                        with trying:
                            outcome = await attempt(job)
                except _Retryable as exc:
                    outcome = _Failed(f"{exc} (after {retries.attempts} attempts)")
                except (_Refused, _Blocked, _Failed) as exc:
                    outcome = exc
                except Exception as exc:  # one bad page must not stop the others
                    outcome = _Failed(_first_line(exc))
                keep(job, outcome)

            await asyncio.gather(*(one(job) for job in jobs))
            for market in markets.values():
                await market.context.close()
        finally:
            await browser.close()


async def _shoot(market: _Market, page: Any, job: _Job, timeout: float) -> _Shot:
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    from crawler.downloadermiddlewares.retry import _retry_after

    ms = timeout * 1000
    url = job.url
    for _hop in range(MAX_REDIRECTS + 1):
        why = market.policy.refusal(url)
        if why is not None:
            raise _Refused(f"{url!r} refused: {why}" if url == job.url else
                           f"{job.url} redirects to {url!r}, refused: {why}")
        market.notes.pop(page, None)
        try:
            response = await page.goto(url, wait_until="load", timeout=ms)
        except PlaywrightError as exc:
            kind, detail = market.notes.pop(page, ("", ""))
            if kind == "refused":
                raise _Refused(detail) from exc
            if kind == "error" or isinstance(exc, PlaywrightTimeout) or "net::ERR_" in str(
                    exc):
                raise _Retryable(detail or _first_line(exc)) from exc
            raise
        kind, detail = market.notes.pop(page, ("", ""))
        if kind != "redirect":
            break
        url = detail
    else:
        raise _Failed(f"{job.url}: more than {MAX_REDIRECTS} redirects")
    if response is None:
        raise _Failed(f"{url}: the page gave no response")
    why = market.policy.refusal(response.url)
    if why is not None:  # routing should have stopped it; never save what it missed
        raise _Refused(f"{job.url} ended at {response.url!r}, refused: {why}")
    status = response.status
    html = await response.body()
    profile = market.profile
    hit = markers.blocked_marker(profile, html.decode("utf-8", "replace"))
    if hit is not None:  # whatever the status: a wall is not retried at once
        raise _Blocked(repr(hit))
    if status in RETRY_STATUS or status >= 500:
        raise _Retryable(f"{url}: HTTP {status}",
                         _retry_after(response.headers.get("retry-after") or ""))
    if status >= 400:
        raise _Failed(f"{url}: HTTP {status}: the listing may be gone already")
    wait_for = profile.evidence.wait_for
    if wait_for:
        try:  # a blocked page shows instead of the listing: stop waiting for it then
            await page.wait_for_selector(", ".join([wait_for, *profile.blocked.selectors]),
                                         timeout=ms)
        except PlaywrightTimeout as exc:
            hit = markers.blocked_marker(profile, await page.content())
            if hit is not None:
                raise _Blocked(repr(hit)) from exc
            raise _Retryable(f"{url}: {wait_for!r} did not show in {timeout:g}s") from exc
    hit = markers.blocked_marker(profile, await page.content())  # drawn by the page's scripts
    if hit is not None:
        raise _Blocked(repr(hit))
    at = now()
    png = await page.screenshot(full_page=True, type="png")
    image, note = (await _image(market, job.image_url, ms)) if job.image_url else (None, None)
    return _Shot(job, status, response.url, png, html, image, note, at)


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


def _write(path: Path, data: bytes) -> str:
    """Write ``data`` whole; return its SHA-256."""
    write_whole(path, data)
    return hashlib.sha256(data).hexdigest()


def _save(store: Store, base: Path, shot: _Shot, by: str, sweep_id: int | None) -> None:
    rel = Path(f"case-{shot.job.case_id}")
    png_sha = _write(base / rel / "screenshot.png", shot.png)
    html_sha = _write(base / rel / "page.html", shot.html)
    image_sha = hashlib.sha256(shot.image).hexdigest() if shot.image is not None else None
    notes = "".join(f"; {n}" for n in (
        f"served by {shot.final_url}" if shot.final_url != shot.job.url else None,
        shot.image_note) if n)
    with store.transaction():
        evidence_rows.save(store, {
            "case_id": shot.job.case_id, "url": shot.job.url, "captured_at": shot.at,
            "http_status": shot.status, "screenshot": str(rel / "screenshot.png"),
            "screenshot_sha256": png_sha, "html": str(rel / "page.html"),
            "html_sha256": html_sha, "image_url": shot.job.image_url,
            "image_sha256": image_sha, "title": shot.job.title, "price": shot.job.price,
            "currency": shot.job.currency})
        case_log.record(store, shot.job.case_id, by, "evidence",
                        f"captured {shot.at}: screenshot sha256 {png_sha[:16]}..., html "
                        f"sha256 {html_sha[:16]}...{notes}", sweep_id)


@dataclass
class VerifyReport:
    checked: int = 0
    problems: list[str] = field(default_factory=list)  # one line each


def verify(store: Store) -> VerifyReport:
    """Re-hash every evidence file; report each missing file or changed hash."""
    base = folder(store.path)
    report = VerifyReport()
    for row in evidence_rows.recorded(store):
        for kind in ("screenshot", "html"):
            path = base / row[kind]
            report.checked += 1
            if not path.is_file():
                report.problems.append(f"case {row['case_id']}: {path}: file is missing")
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != row[f"{kind}_sha256"]:
                report.problems.append(
                    f"case {row['case_id']}: {path}: sha256 {digest[:16]}... does not "
                    f"match the recorded {row[kind + '_sha256'][:16]}... (file changed)")
    return report
