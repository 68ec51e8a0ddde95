"""brandsweep's Scrapy settings: one alphabetised default module, then per-profile values."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crawler import __version__
from crawler.profiles.model import MarketplaceProfile

if TYPE_CHECKING:
    from crawler.rules.engine import RuleSet

HTTP_HANDLER = "crawler.downloadhandlers.http.DeadlineHTTPDownloadHandler"
PLAYWRIGHT_HANDLER = "crawler.downloadhandlers.playwright.LazyPlaywrightDownloadHandler"

DEFAULTS: dict[str, Any] = {
    "AUTOTHROTTLE_ENABLED": True,
    "AUTOTHROTTLE_MAX_DELAY": 30.0,
    "AUTOTHROTTLE_START_DELAY": 0.1,
    "BOT_NAME": "brandsweep",
    "BRANDSWEEP_ALLOWED_HOSTS": [],  # the profile's allowed_hosts (crawler.urls)
    "BRANDSWEEP_BASE_URL": "",  # the profile's base_url; unset, no URL policy applies
    "BRANDSWEEP_FLUSH_ITEMS": 200,
    "BRANDSWEEP_FLUSH_SECONDS": 2.0,
    "BRANDSWEEP_MARKETPLACE_DEADLINE": 3600.0,  # seconds for one marketplace; 0: none
    "BRANDSWEEP_PAGES_PER_CONTEXT": 40,
    "BRANDSWEEP_PAGE_DEADLINE": 0.0,  # seconds per page, retries included; 0: 3 timeouts
    "BRANDSWEEP_RETRY_BACKOFF": 0.5,
    "BRANDSWEEP_RETRY_BACKOFF_MAX": 60.0,
    # the brand's rule file, its version, and the day it judges as of (ISO; "": today):
    # crawler.pipelines.judge compiles it; unset, listings are stored but not judged
    "BRANDSWEEP_RULES_DATE": "",
    "BRANDSWEEP_RULES_PATH": "",
    "BRANDSWEEP_RULES_VERSION": "",
    # items of one response processed side by side: Scrapy's 100 starts 100 tasks per
    # response (a detail page yields one item); for_profile sizes it to the photo fetches
    "CONCURRENT_ITEMS": 8,
    "CONCURRENT_REQUESTS": 16,
    "COOKIES_ENABLED": True,
    "DOWNLOADER_MIDDLEWARES": {
        # before RobotsTxtMiddleware (100): a refused host's robots.txt is not fetched
        "crawler.downloadermiddlewares.urlpolicy.UrlPolicyMiddleware": 50,
        "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
        "crawler.downloadermiddlewares.retry.BackoffRetryMiddleware": 550,
        "crawler.downloadermiddlewares.contexts.BrowserContextMiddleware": 950,
    },
    # http and https only (Scrapy's base also fetches file:, data:, ftp: and s3: URLs):
    # one that got past every check still cannot be fetched
    "DOWNLOAD_HANDLERS_BASE": {"http": HTTP_HANDLER, "https": HTTP_HANDLER},
    "DOWNLOAD_MAXSIZE": 16 * 1024 * 1024,  # a search page is never this big
    "DOWNLOAD_TIMEOUT": 30,
    "DOWNLOAD_WARNSIZE": 4 * 1024 * 1024,
    "EXTENSIONS": {"crawler.extensions.health.HealthExtension": 500},
    "ITEM_PIPELINES": {"crawler.pipelines.images.ImagesPipeline": 200,
                       "crawler.pipelines.store.StorePipeline": 300,
                       "crawler.pipelines.judge.JudgePipeline": 310},
    "LOG_LEVEL": "CRITICAL",  # the sweep summary carries every failure; -v for the log
    "PLAYWRIGHT_ABORT_REQUEST": "crawler.browser.pages.abort_heavy_request",
    # Playwright's driver starts with the first browser page, not with the crawl
    "PLAYWRIGHT_BROWSER_PROVIDER": "crawler.downloadhandlers.playwright.LazyBrowserProvider",
    "PLAYWRIGHT_BROWSER_TYPE": "chromium",
    "PLAYWRIGHT_MAX_CONTEXTS": 3,  # current, retiring, and one spare
    "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": 4,
    "REMOTE_CONTROL_ENABLED": False,  # it would run Python sent to it over HTTP
    "RETRY_HTTP_CODES": [408, 429, 500, 502, 503, 504, 522, 524],
    "RETRY_TIMES": 6,
    "ROBOTSTXT_OBEY": True,
    "TELNETCONSOLE_ENABLED": False,
    "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
    "USER_AGENT": f"brandsweep/{__version__} (brand-protection monitoring)",
    # Scrapy re-reads and parses a callback's source for every response to lint it (its
    # cache holds bound methods weakly, so it always misses); a lint for spider authors,
    # and brandsweep's spiders are its own code
    "WARN_ON_GENERATOR_RETURN_VALUE": False,
}


def for_profile(profile: MarketplaceProfile, *, db: str | None, sweep_id: int | None,
                campaign: str | None, timeout: float | None = None,
                log_level: str | None = None, chromium: str | None = None,
                ruleset: RuleSet | None = None, deadline: float | None = None
                ) -> dict[str, Any]:
    """The settings of the crawler that sweeps one marketplace. ``timeout`` is the
    download timeout per page attempt, ``deadline`` the marketplace's whole crawl;
    ``ruleset`` is named by its file, version and day (settings are plain data)."""
    from crawler.browser.chromium import launch_options

    s = dict(DEFAULTS)
    s.update({
        "AUTOTHROTTLE_ENABLED": profile.politeness.autothrottle,
        "AUTOTHROTTLE_START_DELAY": max(profile.politeness.delay, 0.1),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(profile.politeness.concurrency),
        "BRANDSWEEP_ALLOWED_HOSTS": list(profile.allowed_hosts),
        "BRANDSWEEP_BASE_URL": profile.base_url,
        "BRANDSWEEP_CAMPAIGN": campaign,
        "BRANDSWEEP_DB": db,
        "BRANDSWEEP_IMAGES_MAX": profile.images.max,
        "BRANDSWEEP_RULES_DATE": ruleset.today.isoformat() if ruleset else "",
        "BRANDSWEEP_RULES_PATH": ruleset.path if ruleset else "",
        "BRANDSWEEP_RULES_VERSION": ruleset.version if ruleset else "",
        "BRANDSWEEP_SWEEP_ID": sweep_id or 0,
        # an item waits at most for its photos, fetched ``concurrency`` at a time: more
        # item workers than twice that would only wait
        "CONCURRENT_ITEMS": max(8, 2 * profile.politeness.concurrency),
        "CONCURRENT_REQUESTS_PER_DOMAIN": profile.politeness.concurrency,
        "DOWNLOAD_DELAY": profile.politeness.delay,
        "ROBOTSTXT_OBEY": profile.politeness.robots_txt,
    })
    if timeout:
        s["DOWNLOAD_TIMEOUT"] = timeout
    # a browser page's navigation has the same timeout as a plain download
    s["PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT"] = float(s["DOWNLOAD_TIMEOUT"]) * 1000
    if deadline is not None:
        s["BRANDSWEEP_MARKETPLACE_DEADLINE"] = deadline
    # Scrapy's CloseSpider extension keeps the clock; the spider reads its close reason
    s["CLOSESPIDER_TIMEOUT"] = float(s["BRANDSWEEP_MARKETPLACE_DEADLINE"])
    if log_level:
        s["LOG_LEVEL"] = log_level
    if profile.search.render != "http":
        s["DOWNLOAD_HANDLERS"] = {"http": PLAYWRIGHT_HANDLER, "https": PLAYWRIGHT_HANDLER}
        s["PLAYWRIGHT_LAUNCH_OPTIONS"] = launch_options(chromium, images=False)
    return s


GLOBAL_LIMIT = "crawler.downloadermiddlewares.globallimit.GlobalLimitMiddleware"


def distributed(profile: MarketplaceProfile, redis_url: str) -> dict[str, Any]:
    """What every crawler of a distributed sweep adds (coordinator and workers alike):
    the marketplace's politeness held in Redis across all of them."""
    return {
        "BRANDSWEEP_CONCURRENCY": profile.politeness.concurrency,
        "BRANDSWEEP_DELAY": profile.politeness.delay,
        "BRANDSWEEP_MARKETPLACE": profile.name,
        "BRANDSWEEP_REDIS_URL": redis_url,
        # last before the download handler: a retry's back-off never holds a slot
        "DOWNLOADER_MIDDLEWARES": {**DEFAULTS["DOWNLOADER_MIDDLEWARES"], GLOBAL_LIMIT: 960},
    }


def for_worker(profile: MarketplaceProfile, redis_url: str, concurrency: int,
               lease_seconds: float = 60.0) -> dict[str, Any]:
    """A worker's crawler of one marketplace, over ``for_profile``'s: it downloads and
    reads; the coordinator stores, judges and fetches photos. Its pace is the shared limit
    (the profile's concurrency and delay across all workers), not a per-process one."""
    return distributed(profile, redis_url) | {
        "AUTOTHROTTLE_ENABLED": False,
        # a killed worker's politeness slots come back as soon as its leases do
        "BRANDSWEEP_LIMIT_HOLD": max(5.0, float(lease_seconds)),
        "CLOSESPIDER_TIMEOUT": 0,  # the coordinator keeps the marketplace's deadline
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "DOWNLOAD_DELAY": 0,
        "DUPEFILTER_CLASS": "crawler.distributed.dupefilter.RedirectLoopFilter",
        "EXTENSIONS": {},
        "ITEM_PIPELINES": {},
    }
