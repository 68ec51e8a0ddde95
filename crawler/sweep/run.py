"""Running a sweep: one Scrapy crawler per marketplace, all in one process, one store.

``run`` records the sweep, crawls, and finishes the sweep row with every marketplace's
health, whatever happened to the others. Exit status: ``ok``, ``partial`` (some
marketplace blocked, failed extraction, lost pages or is ``degraded`` against its own
history, see ``crawler.sweep.monitor``) or ``failed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawler.exceptions import ConfigError
from crawler.profiles.model import MarketplaceProfile
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
    timeout: float | None = None  # seconds per page attempt (DOWNLOAD_TIMEOUT)
    deadline: float | None = None  # seconds per marketplace (BRANDSWEEP_MARKETPLACE_DEADLINE)
    log_level: str | None = None
    ruleset: Any = None  # the brand's compiled rule set: listings are judged as stored
    # after the crawl: open cases, capture their evidence, draft what the rules say
    cases: bool = True
    evidence: bool = True
    draft: bool = True
    # every profile, by name: cases from earlier sweeps of other marketplaces need theirs
    all_profiles: dict[str, MarketplaceProfile] | None = None
    notify: list[Any] = field(default_factory=list)  # crawler.notify.config.Channel
    # Scrapy settings for every crawler of the sweep, applied over brandsweep's own
    settings: dict[str, Any] = field(default_factory=dict)
    # the Redis of a distributed sweep (crawler.distributed): workers fetch and read the
    # pages, this process seeds, stores, judges and follows up; None: a local sweep
    redis: str | None = None


@dataclass
class SweepResult:
    sweep_id: int
    status: str
    marketplaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    elapsed: float = 0.0
    staged: dict[str, int] | None = None  # listings seen by this sweep, per stage
    ruleset_version: str | None = None
    cases: dict[str, Any] | None = None  # new cases, evidence and drafts
    resumed: int | None = None  # the interrupted sweep this one finished
    problem: str | None = None  # a follow-up step a person must fix (exit 2)
    networks: dict[str, int] | None = None  # photo facts, seller networks (cases.networks)
    notified: Any = None  # crawler.notify.outbox.Report, once the sweep is finished

    @property
    def exit_code(self) -> int:
        """0 ok; 3 when any marketplace did not end ok (every one failing included: each
        has its status and reason); 2 for a follow-up step a person must fix."""
        if self.problem and self.status != "failed":
            return 2
        return {"ok": 0, "partial": 3, "failed": 3}.get(self.status, 1)

    def as_dict(self) -> dict[str, Any]:
        out = {"sweep_id": self.sweep_id, "status": self.status,
               "elapsed_seconds": round(self.elapsed, 2), "marketplaces": self.marketplaces}
        # links on pages and redirects that crawler.urls refused, all marketplaces
        out["refused_urls"] = sum(int(m.get("refused_urls", 0))
                                  for m in self.marketplaces.values())
        if self.staged is not None:
            out["staged"] = self.staged
            out["ruleset_version"] = self.ruleset_version
        if self.networks is not None:
            out["networks"] = self.networks
        if self.cases is not None:
            out["cases"] = self.cases
        if self.problem:
            out["problem"] = self.problem
        if self.resumed is not None:
            out["resumed"] = self.resumed
        if self.notified is not None:
            out["notifications"] = self.notified.as_dict()
        return out


def run(plan: SweepPlan) -> SweepResult:
    """Sweep every marketplace in ``plan``; blocks until all crawlers have finished.
    A brand is swept by one process at a time (``SweepLocked``, exit 75)."""
    from contextlib import nullcontext

    from crawler.sweep.lock import brand_lock

    with brand_lock(plan.db, plan.brand) if plan.brand else nullcontext():
        return _run(plan)


# the spider a profile without ``spider:`` runs; named, not imported: spiders sit above
# the library (the import contract in pyproject.toml)
DEFAULT_SPIDER = "spiders.profile.ProfileSpider"


def spider_class(profile: MarketplaceProfile) -> type[Any]:
    """The Scrapy spider class a profile names (``spider: package.module.Class``), or the
    profile spider; a name that does not load is the profile's configuration error."""
    from scrapy import Spider

    from crawler import process

    name = profile.spider or DEFAULT_SPIDER
    try:
        cls = process.spider(name)
    except (ImportError, NameError, ValueError, AttributeError) as exc:
        raise ConfigError([f"{profile.source or profile.name}: spider: cannot load {name!r}"
                           f" ({exc}); give the dotted path of a Scrapy spider class"
                           " importable here"]) from None
    if not (isinstance(cls, type) and issubclass(cls, Spider)):
        raise ConfigError([f"{profile.source or profile.name}: spider: {name!r} is not a"
                           " Scrapy spider class; give the dotted path of a scrapy.Spider"
                           " subclass"])
    return cls


def _run(plan: SweepPlan) -> SweepResult:
    import time

    from scrapy import signals
    from scrapy.crawler import Crawler

    from crawler import process as scrapy_process
    from crawler import settings as bs
    from crawler.browser.chromium import find_chromium

    # a profile naming a spider that does not load stops the sweep before anything is
    # written; so does a Redis that does not answer
    queue = None
    if plan.redis:
        from crawler.distributed import coordinator

        coordinator.check_profiles(plan.profiles)
        queue = coordinator.open_queue(plan.redis)
        spiders = {p.name: scrapy_process.spider(coordinator.COORDINATOR_SPIDER)
                   for p in plan.profiles}
    else:
        spiders = {p.name: spider_class(p) for p in plan.profiles}
    started = time.monotonic()
    store = Store(plan.db)
    store.migrate()
    store.mark_interrupted()
    if queue is not None:
        # a killed coordinator's queues: workers would go on fetching them for nobody
        coordinator.clear_stale(queue, plan.db, store.running_sweeps())
    names = [p.name for p in plan.profiles]
    # the same plan killed midway: finish its unfinished marketplaces instead of all
    resume = store.resumable(plan.kind, plan.brand, names, plan.keywords,
                             plan.max_pages or 0)
    done = resume[1] if resume else set()
    sweep_id = store.start_sweep(kind=plan.kind, brand=plan.brand, campaign=plan.campaign,
                                 marketplaces=names, keywords=plan.keywords,
                                 max_pages=plan.max_pages or 0,
                                 resumes=resume[0] if resume else None)
    todo = [p for p in plan.profiles if p.name not in done]
    chromium = find_chromium() if any(p.search.render != "http" for p in todo) \
        else None
    process = scrapy_process.crawler_process(plan.log_level)
    if plan.ruleset is not None:
        from crawler.pipelines import judge

        # the settings name the rule file; its pipeline judges with the one compiled here
        judge.remember(plan.ruleset)
    crawlers: list[tuple[MarketplaceProfile, Crawler]] = []
    for profile in todo:
        crawler = Crawler(spiders[profile.name], bs.for_profile(
            profile, db=str(plan.db), sweep_id=sweep_id, campaign=plan.campaign,
            timeout=plan.timeout, log_level=plan.log_level, chromium=chromium,
            ruleset=plan.ruleset, deadline=plan.deadline) | (
                coordinator.settings(profile, plan.redis, plan.db, sweep_id)
                if plan.redis else {}) | plan.settings)
        # engine_stopped, not spider_closed: the spider's own spider_closed handler
        # (connected after this one) is where it decides how its keywords ended
        crawler.signals.connect(_checkpoint(store, sweep_id, profile.name, crawler),
                                signal=signals.engine_stopped, weak=False)
        process.crawl(crawler, profile=profile, keywords=plan.keywords,
                      max_pages=plan.max_pages)
        crawlers.append((profile, crawler))
    from crawler.sweep.progress import Progress

    progress = Progress([(p.name, c) for p, c in crawlers])
    progress.start()
    try:
        if crawlers:
            process.start()
    finally:
        progress.stop()

    result = SweepResult(sweep_id, "ok", resumed=resume[0] if resume else None)
    for profile in plan.profiles:
        if profile.name in done:
            result.marketplaces[profile.name] = {
                "status": "ok", "resumed": True, "listings": 0, "pages": {},
                "reason": f"done by interrupted sweep {resume[0] if resume else '?'}"}
    for profile, crawler in crawlers:
        result.marketplaces[profile.name] = _health(crawler)
    from crawler.sweep import monitor

    # health against history: an ok marketplace whose figures fell becomes "degraded"
    monitor.check(store, [p for p, _ in crawlers], result.marketplaces, sweep_id=sweep_id,
                  kind=plan.kind, brand=plan.brand, campaign=plan.campaign,
                  keywords=plan.keywords, max_pages=plan.max_pages)
    statuses = {m["status"] for m in result.marketplaces.values()}
    if statuses == {"ok"}:
        result.status = "ok"
    elif statuses == {"failed"}:
        result.status = "failed"
    else:
        result.status = "partial"
    if plan.ruleset is not None:
        from dataclasses import asdict

        from crawler.cases import networks

        # photos and seller networks judged once the crawl has stored every listing
        result.networks = asdict(networks.refresh(store, plan.ruleset, sweep_id))
        result.staged = store.stage_counts(plan.ruleset.brand_key, sweep_id)
        result.ruleset_version = plan.ruleset.version
        if plan.cases and plan.brand:
            _follow_up(store, plan, sweep_id, result, chromium)
    result.elapsed = time.monotonic() - started
    store.finish_sweep(sweep_id, result.status, result.as_dict())
    if plan.notify:  # after the sweep is recorded: a notification never changes it
        from crawler import notify

        result.notified = notify.after_sweep(
            store, plan.notify, kind=plan.kind, brand=plan.brand, sweep_id=sweep_id,
            status=result.status, marketplaces=result.marketplaces,
            top_stage=notify.top_stage(plan.ruleset))
    return result


def _checkpoint(store: Store, sweep_id: int, name: str, crawler: Any) -> Any:
    """An engine_stopped handler: the item pipeline has flushed by now, so a marketplace
    whose crawl went well is complete in the store."""
    def stopped() -> None:
        reason = crawler.stats.get_value("finish_reason") if crawler.stats else None
        if reason == "finished" and _health(crawler)["status"] == "ok":
            store.mark_done(sweep_id, name, "ok")
    return stopped


def _follow_up(store: Store, plan: SweepPlan, sweep_id: int, result: SweepResult,
               chromium: str | None) -> None:
    """Stage (open cases), capture evidence for new cases, link relistings, and draft
    what the rule set drafts automatically. Each step finishes what a killed run left."""
    from crawler.browser.chromium import find_chromium
    from crawler.cases import evidence
    from crawler.cases import lifecycle as cases
    from crawler.exceptions import BrandsweepError
    from crawler.notices import drafting

    by = "brandsweep"
    brand = plan.ruleset.brand_key
    profiles = plan.all_profiles or {p.name: p for p in plan.profiles}
    synced = cases.sync(store, brand, by, sweep_id)
    info: dict[str, Any] = {"new": len(synced.opened), "new_by_stage": synced.by_stage,
                            "restaged": synced.restaged}
    result.cases = info
    try:
        if plan.evidence:
            got = evidence.capture(store, profiles, chromium or find_chromium(), brand, by,
                                   sweep_id)
            info["evidence_captured"] = got.captured
            info["evidence_failed"] = len(got.failed)
            info["evidence_blocked"] = len(got.blocked)  # a CAPTCHA is not evidence
            info["evidence_refused"] = len(got.refused)  # a URL the policy does not allow
            info["evidence_no_profile"] = len(got.no_profile)
            info["evidence_failures"] = [f"case {c}: {why}" for c, why in [
                *got.failed, *got.blocked, *got.refused, *got.no_profile][:5]]
        info["relisted"] = len(cases.link_relistings(store, brand, by, sweep_id))
        if plan.draft:
            drafted = drafting.draft(store, plan.ruleset, profiles, by, sweep_id)
            info["drafts_new"] = len(drafted.notices)
            info["drafts_by_program"] = drafted.by_program
            info["drafted_listings"] = drafted.items - sum(drafted.joined.values())
            info["joined_listings"] = sum(drafted.joined.values())  # added to unsent drafts
            info["waiting_evidence"] = drafted.waiting_evidence
            info["storefront_notices_new"] = len(drafting.draft_storefronts(
                store, plan.ruleset, profiles, by, sweep_id))
    except BrandsweepError as exc:
        result.problem = str(exc)


def _health(crawler: Any) -> dict[str, Any]:
    from crawler.extensions import health as written

    stats = crawler.stats.get_stats() if crawler.stats else {}
    if not isinstance(stats.get(written.HEALTH), dict):
        return {"status": "failed", "reason": "the crawler did not start"}
    health = dict(stats[written.HEALTH])  # the spider's, as crawler.extensions.health wrote it
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
    health["browser_contexts_closed"] = stats.get(written.CONTEXTS_CLOSED, 0)
    health["browser_pages_reused"] = stats.get(written.PAGES_REUSED, 0)
    return dict(health)
