"""Running a sweep: one Scrapy crawler per marketplace, all in one process, one store.

``run`` records the sweep, crawls, and finishes the sweep row with every marketplace's
health, whatever happened to the others. Exit status: ``ok``, ``partial`` (some
marketplace blocked, failed extraction or lost pages) or ``failed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawler.profiles import MarketplaceProfile
from crawler.store import Store


@dataclass
class SweepPlan:
    """Everything a sweep needs to know before it starts."""

    kind: str  # "sweep" (a brand's keywords) or "crawl" (a one-off campaign)
    brand: str | None
    campaign: str | None
    keywords: list[str]
    profiles: list[MarketplaceProfile]
    max_pages: int | None
    db: Path
    timeout: float | None = None
    log_level: str | None = None
    ruleset: Any = None  # the brand's compiled rule set: listings are judged as stored


@dataclass
class SweepResult:
    sweep_id: int
    status: str
    marketplaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    elapsed: float = 0.0
    staged: dict[str, int] | None = None  # listings seen by this sweep, per stage
    ruleset_version: str | None = None

    @property
    def exit_code(self) -> int:
        return {"ok": 0, "partial": 3}.get(self.status, 1)

    def as_dict(self) -> dict[str, Any]:
        out = {"sweep_id": self.sweep_id, "status": self.status,
               "elapsed_seconds": round(self.elapsed, 2), "marketplaces": self.marketplaces}
        if self.staged is not None:
            out["staged"] = self.staged
            out["ruleset_version"] = self.ruleset_version
        return out


def run(plan: SweepPlan) -> SweepResult:
    """Sweep every marketplace in ``plan``; blocks until all crawlers have finished."""
    import time

    from scrapy.crawler import Crawler, CrawlerProcess
    from scrapy.utils.reactor import install_reactor, is_reactor_installed

    from crawler import settings as bs
    from crawler.browser import find_chromium
    from spiders.profile import ProfileSpider

    if not is_reactor_installed():  # one reactor for all crawlers of this sweep
        install_reactor(bs.DEFAULTS["TWISTED_REACTOR"])
    started = time.monotonic()
    store = Store(plan.db)
    store.migrate()
    sweep_id = store.start_sweep(kind=plan.kind, brand=plan.brand, campaign=plan.campaign,
                                 marketplaces=[p.name for p in plan.profiles],
                                 keywords=plan.keywords, max_pages=plan.max_pages or 0)
    chromium = find_chromium() if any(p.search.render != "http" for p in plan.profiles) \
        else None
    process = CrawlerProcess(settings={"TWISTED_REACTOR": bs.DEFAULTS["TWISTED_REACTOR"],
                                       "LOG_LEVEL": plan.log_level or "CRITICAL",
                                       "TELNETCONSOLE_ENABLED": False,
                                       "REMOTE_CONTROL_ENABLED": False,
                                       "LOG_INSTALL_ROOT_HANDLER": True})
    crawlers: list[tuple[MarketplaceProfile, Crawler]] = []
    for profile in plan.profiles:
        crawler = Crawler(ProfileSpider, bs.for_profile(
            profile, db=str(plan.db), sweep_id=sweep_id, campaign=plan.campaign,
            timeout=plan.timeout, log_level=plan.log_level, chromium=chromium,
            ruleset=plan.ruleset))
        process.crawl(crawler, profile=profile, keywords=plan.keywords,
                      max_pages=plan.max_pages)
        crawlers.append((profile, crawler))
    from crawler.progress import Progress

    progress = Progress([(p.name, c) for p, c in crawlers])
    progress.start()
    try:
        process.start()
    finally:
        progress.stop()

    result = SweepResult(sweep_id, "ok")
    for profile, crawler in crawlers:
        result.marketplaces[profile.name] = _health(crawler)
    statuses = {m["status"] for m in result.marketplaces.values()}
    if statuses == {"ok"}:
        result.status = "ok"
    elif statuses == {"failed"}:
        result.status = "failed"
    else:
        result.status = "partial"
    if plan.ruleset is not None:
        result.staged = store.stage_counts(plan.ruleset.brand_key, sweep_id)
        result.ruleset_version = plan.ruleset.version
    result.elapsed = time.monotonic() - started
    store.finish_sweep(sweep_id, result.status, result.as_dict())
    return result


def _health(crawler: Any) -> dict[str, Any]:
    spider = crawler.spider
    stats = crawler.stats.get_stats() if crawler.stats else {}
    if spider is None or not hasattr(spider, "health"):
        return {"status": "failed", "reason": "the crawler did not start"}
    health = spider.health.as_dict()
    if health["status"] == "ok" and health["failed_pages"]:
        health["status"] = "failed" if not health["listings"] else "partial"
        health["reason"] = f"{len(health['failed_pages'])} pages failed after retries"
    if health["status"] == "partial":
        health["status"] = "failed"
    errors = sum(v for k, v in stats.items() if k.startswith("spider_exceptions/"))
    if errors and health["status"] == "ok":
        # a page the spider could not process is a page whose listings were lost
        health["status"] = "failed"
        health["reason"] = (f"{errors} pages raised errors while being read; run with -v "
                            "to see them")
    if stats.get("brandsweep/store_errors"):
        health["status"] = "failed"
        health["reason"] = f"could not save listings: {stats.get('brandsweep/store_error')}"
    health["retries"] = stats.get("retry/count", 0)
    if stats.get("start_time") and stats.get("finish_time"):
        health["seconds"] = round((stats["finish_time"] - stats["start_time"])
                                  .total_seconds(), 3)
    health["new_listings"] = stats.get("brandsweep/listings_new", 0)
    health["saved"] = stats.get("brandsweep/items_saved", 0)
    health["evaluated"] = stats.get("brandsweep/evaluated", 0)
    health["render_mode"] = "browser" if health["pages"]["browser"] else "http"
    if crawler.spider.contexts is not None:
        health["browser_contexts_closed"] = crawler.spider.contexts.closed
    return dict(health)
