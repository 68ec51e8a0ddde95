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
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from crawler import urls
from crawler.cases import camera
from crawler.cases import lifecycle as case_log
from crawler.cases.pacing import PAGE_TIMEOUT, Retries
from crawler.files import write_whole
from crawler.folders import evidence_dir
from crawler.profiles.model import MarketplaceProfile
from crawler.store import Store
from crawler.store import cases as case_rows
from crawler.store import evidence as evidence_rows


def folder(store_path: Path) -> Path:
    """The evidence folder that belongs to the store at ``store_path``."""
    return evidence_dir(store_path)


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


def capture(store: Store, profiles: dict[str, MarketplaceProfile], chromium: str,
            brand: str | None = None, by: str = "brandsweep", sweep_id: int | None = None,
            limit: int | None = None,
            progress: Callable[[int, int], None] | None = None,
            retries: Retries | None = None, page_timeout: float = PAGE_TIMEOUT,
            ) -> CaptureResult:
    """Capture evidence for every case (of ``brand``) that has none yet; ``limit`` caps
    the pages fetched. Cases that are refused or lack a profile are counted, not fetched."""
    result = CaptureResult()
    jobs: list[camera.Job] = []
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
        jobs.append(camera.Job(case_id, market, url, _first_image(images), title, price,
                         currency))
    result.pending = len(jobs)
    if limit is not None:
        jobs = jobs[:limit]
    if not jobs:
        return result
    base = folder(store.path)

    async def keep(job: camera.Job, outcome: camera.Shot | Exception) -> None:
        if isinstance(outcome, camera.Shot):
            # the files first, flushed to disk in a thread: an fsync that waits on a busy
            # disk must not stall the event loop, and with it every page in flight
            hashes = await asyncio.to_thread(_write_files, base, outcome)
            _save(store, outcome, hashes, by, sweep_id)
            result.captured += 1
            result.pending -= 1
        elif isinstance(outcome, camera.Refused):
            _refuse(store, job.case_id, str(outcome), by, sweep_id, result)
            result.pending -= 1
        elif isinstance(outcome, camera.Blocked):
            result.blocked.append((job.case_id, f"{job.url}: blocked page ({outcome} found): "
                                   "the marketplace shows a CAPTCHA or bot wall; the next "
                                   "run tries again"))
        else:
            result.failed.append((job.case_id, str(outcome)))
        done.append(job.case_id)
        if progress is not None:
            progress(len(done), len(jobs))

    done: list[int] = []
    asyncio.run(camera.run(jobs, {j.market: profiles[j.market] for j in jobs}, chromium,
                           keep, retries or Retries(), page_timeout))
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


def _write(path: Path, data: bytes) -> str:
    """Write ``data`` whole; return its SHA-256."""
    write_whole(path, data)
    return hashlib.sha256(data).hexdigest()


def _write_files(base: Path, shot: camera.Shot) -> tuple[str, str]:
    """Write the shot's screenshot and HTML whole; return their SHA-256 (PNG, HTML).
    Touches only the case's own folder, so it may run in a thread."""
    rel = Path(f"case-{shot.job.case_id}")
    return (_write(base / rel / "screenshot.png", shot.png),
            _write(base / rel / "page.html", shot.html))


def _save(store: Store, shot: camera.Shot, hashes: tuple[str, str], by: str,
          sweep_id: int | None) -> None:
    """Record the evidence row and its audit event, once its files are on disk."""
    rel = Path(f"case-{shot.job.case_id}")
    png_sha, html_sha = hashes
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

