"""``brandsweep verify``: re-fetch every submitted listing of a brand through its
marketplace profile; a page that is gone makes the case ``removed``, one that is still
there ``still_live``. A blocked or failed fetch changes nothing and is reported, as does
a stored URL the marketplace's URL policy (``crawler.urls``) refuses: ``spiders.verify``
never fetches it, and the crawler's ``UrlPolicyMiddleware`` refuses a redirect to one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crawler.cases import lifecycle as case_log
from crawler.profiles.model import MarketplaceProfile
from crawler.store import Store
from crawler.store import cases as case_rows

VERIFY_SPIDER = "spiders.verify.VerifySpider"


@dataclass
class VerifyResult:
    removed: list[int] = field(default_factory=list)
    still_live: list[int] = field(default_factory=list)
    unknown: list[tuple[int, str]] = field(default_factory=list)  # (case, why)

    @property
    def exit_code(self) -> int:
        return 3 if self.unknown else 0


def run(store: Store, brand: str, profiles: dict[str, MarketplaceProfile], by: str,
        log_level: str | None = None) -> VerifyResult:
    """Check every ``submitted`` or ``still_live`` case of ``brand``; blocks until done."""
    from scrapy.crawler import Crawler

    from crawler import process as scrapy_process
    from crawler import settings as bs

    result = VerifyResult()
    targets: dict[str, list[tuple[int, str]]] = {}
    for row in case_rows.to_verify(store, brand):
        if row["marketplace"] not in profiles:
            result.unknown.append((row["id"], f"no profile for {row['marketplace']}"))
            continue
        targets.setdefault(row["marketplace"], []).append((row["id"], row["url"]))
    if not targets:
        return result
    process = scrapy_process.crawler_process(log_level)
    verify_spider = scrapy_process.spider(VERIFY_SPIDER)
    crawlers: list[Any] = []
    for market, items in targets.items():
        settings = bs.for_profile(profiles[market], db=None, sweep_id=None, campaign=None,
                                  log_level=log_level)
        settings.pop("DOWNLOAD_HANDLERS", None)  # a listing page's status is enough
        crawler = Crawler(verify_spider, settings)
        process.crawl(crawler, profile=profiles[market], targets=items)
        crawlers.append((items, crawler))
    process.start()
    verdicts: dict[int, tuple[str, str]] = {}
    for items, crawler in crawlers:
        got = crawler.spider.verdicts if crawler.spider else {}
        for case_id, _url in items:
            verdicts[case_id] = got.get(case_id, ("error", "not fetched"))
    with store.transaction():
        for case_id, (verdict, detail) in sorted(verdicts.items()):
            if verdict in ("removed", "still_live"):
                case_log.transition(store, [case_id], verdict, by, f"verify: {detail}")
                (result.removed if verdict == "removed" else result.still_live).append(
                    case_id)
            else:
                result.unknown.append((case_id, f"{verdict}: {detail}"))
                case_log.record(store, case_id, by, "verify", f"could not tell: {verdict}, "
                                f"{detail}")
    return result
