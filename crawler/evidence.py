"""Evidence: a full-page screenshot and the HTML as served of each case's listing, captured
once in headless Chromium, with the capture time (UTC) and SHA-256 of both files.

Files live in an evidence folder beside the store (``brandsweep.db`` ->
``brandsweep-evidence/``), one folder per case. Each file is written to a temporary name,
flushed and renamed, and only then is the ``evidence`` row inserted, in one transaction
with its audit event: a killed capture leaves at most stray files (overwritten by the next
capture of that case), never a row that points at a missing or half-written file.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawler import cases as case_log
from crawler.files import write_whole
from crawler.profiles import MarketplaceProfile
from crawler.store import Store, now

CONCURRENCY = 4  # pages at once: the 2-core machine is busy with Chromium beyond this
PAGE_TIMEOUT = 30.0  # seconds for a listing page to load


def folder(store_path: Path) -> Path:
    """The evidence folder that belongs to the store at ``store_path``."""
    return store_path.with_name(store_path.stem + "-evidence")


@dataclass
class CaptureResult:
    captured: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)  # (case id, why)
    pending: int = 0  # cases that still have none (failed, or over the limit)


@dataclass
class _Job:
    case_id: int
    url: str
    image_url: str | None
    title: str
    price: str | None
    currency: str | None
    wait_for: str | None


@dataclass
class _Shot:
    job: _Job
    status: int
    png: bytes
    html: bytes
    image: bytes | None
    at: str


def capture(store: Store, profiles: dict[str, MarketplaceProfile], chromium: str,
            brand: str | None = None, by: str = "brandsweep", sweep_id: int | None = None,
            limit: int | None = None,
            progress: Callable[[int, int], None] | None = None) -> CaptureResult:
    """Capture evidence for every case (of ``brand``) that has none yet."""
    sql = ("select c.id, l.url, l.image_urls, l.title, l.price, l.currency, c.marketplace "
           "from cases c join listings l on l.marketplace = c.marketplace and "
           "l.listing_id = c.listing_id where not exists (select 1 from evidence v where "
           "v.case_id = c.id) and c.status in ('open', 'confirmed', 'noticed', 'submitted')")
    params: list[Any] = []
    if brand is not None:
        sql += " and c.brand = ?"
        params.append(brand)
    rows = store.db.conn.execute(sql + " order by c.id", params).fetchall()
    jobs = []
    for case_id, url, images, title, price, currency, market in rows:
        first = _first_image(images)
        profile = profiles.get(market)
        jobs.append(_Job(case_id, url, first, title, price, currency,
                         profile.evidence.wait_for if profile else None))
    result = CaptureResult(pending=len(jobs))
    if limit is not None:
        jobs = jobs[:limit]
    if not jobs:
        return result
    base = folder(store.path)

    def keep(shot: _Shot | tuple[_Job, str]) -> None:
        if isinstance(shot, tuple):
            result.failed.append((shot[0].case_id, shot[1]))
        else:
            _save(store, base, shot, by, sweep_id)
            result.captured += 1
            result.pending -= 1
        if progress is not None:
            progress(result.captured + len(result.failed), len(jobs))

    asyncio.run(_run(jobs, chromium, keep))
    return result


def _first_image(images: str | None) -> str | None:
    import json

    urls = json.loads(images) if images else []
    return urls[0] if urls else None


async def _run(jobs: list[_Job], chromium: str,
               keep: Callable[[_Shot | tuple[_Job, str]], None]) -> None:
    from playwright.async_api import async_playwright

    from crawler.browser import launch_options

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(**launch_options(chromium))  # type: ignore[arg-type]
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            queue: asyncio.Queue[_Job] = asyncio.Queue()
            for job in jobs:
                queue.put_nowait(job)

            async def worker() -> None:
                # one page per worker, reused: a new page per listing costs a third more
                page = await context.new_page()
                while not queue.empty():
                    job = queue.get_nowait()
                    try:
                        keep(await _shoot(context, page, job))
                    except Exception as exc:  # one bad page must not stop the others
                        keep((job, f"{type(exc).__name__}: {str(exc).splitlines()[0]}"))
                        await page.close()
                        page = await context.new_page()
                await page.close()

            await asyncio.gather(*(worker() for _ in range(min(CONCURRENCY, len(jobs)))))
            await context.close()
        finally:
            await browser.close()


async def _shoot(context: Any, page: Any, job: _Job) -> _Shot:
    response = await page.goto(job.url, wait_until="load", timeout=PAGE_TIMEOUT * 1000)
    if response is None:
        raise RuntimeError("the page gave no response")
    if response.status >= 400:
        raise RuntimeError(f"HTTP {response.status}: the listing may be gone already")
    if job.wait_for:
        await page.wait_for_selector(job.wait_for, timeout=PAGE_TIMEOUT * 1000)
    at = now()
    html = await response.body()
    png = await page.screenshot(full_page=True, type="png")
    image = None
    if job.image_url:
        got = await context.request.get(job.image_url, timeout=PAGE_TIMEOUT * 1000)
        image = await got.body() if got.ok else None
    return _Shot(job, response.status, png, html, image, at)


def _write(path: Path, data: bytes) -> str:
    """Write ``data`` whole; return its SHA-256."""
    write_whole(path, data)
    return hashlib.sha256(data).hexdigest()


def _save(store: Store, base: Path, shot: _Shot, by: str, sweep_id: int | None) -> None:
    rel = Path(f"case-{shot.job.case_id}")
    png_sha = _write(base / rel / "screenshot.png", shot.png)
    html_sha = _write(base / rel / "page.html", shot.html)
    image_sha = hashlib.sha256(shot.image).hexdigest() if shot.image is not None else None
    conn = store.db.conn
    with conn:
        conn.execute(
            "insert into evidence (case_id, url, captured_at, http_status, screenshot, "
            "screenshot_sha256, html, html_sha256, image_url, image_sha256, title, price, "
            "currency) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict (case_id) "
            "do nothing",
            [shot.job.case_id, shot.job.url, shot.at, shot.status,
             str(rel / "screenshot.png"), png_sha, str(rel / "page.html"), html_sha,
             shot.job.image_url, image_sha, shot.job.title, shot.job.price,
             shot.job.currency])
        case_log.record(store, shot.job.case_id, by, "evidence",
                        f"captured {shot.at}: screenshot sha256 {png_sha[:16]}..., html "
                        f"sha256 {html_sha[:16]}...", sweep_id)


@dataclass
class VerifyReport:
    checked: int = 0
    problems: list[str] = field(default_factory=list)  # one line each


def verify(store: Store) -> VerifyReport:
    """Re-hash every evidence file; report each missing file or changed hash."""
    base = folder(store.path)
    report = VerifyReport()
    for row in store.db.query("select case_id, screenshot, screenshot_sha256, html, "
                              "html_sha256 from evidence order by case_id"):
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
