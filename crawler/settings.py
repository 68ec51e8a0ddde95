"""brandsweep's Scrapy settings: one alphabetised default module, then per-profile values."""

from __future__ import annotations

from typing import Any

from crawler import __version__
from crawler.profiles import MarketplaceProfile

PLAYWRIGHT_HANDLER = "crawler.downloadhandlers.playwright.LazyPlaywrightDownloadHandler"

DEFAULTS: dict[str, Any] = {
    "AUTOTHROTTLE_ENABLED": True,
    "AUTOTHROTTLE_MAX_DELAY": 30.0,
    "AUTOTHROTTLE_START_DELAY": 0.1,
    "BOT_NAME": "brandsweep",
    "BRANDSWEEP_FLUSH_ITEMS": 200,
    "BRANDSWEEP_FLUSH_SECONDS": 2.0,
    "BRANDSWEEP_PAGES_PER_CONTEXT": 40,
    "BRANDSWEEP_RETRY_BACKOFF": 0.5,
    "BRANDSWEEP_RETRY_BACKOFF_MAX": 60.0,
    "CONCURRENT_REQUESTS": 16,
    "COOKIES_ENABLED": True,
    "DOWNLOADER_MIDDLEWARES": {
        "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
        "crawler.downloadermiddlewares.retry.BackoffRetryMiddleware": 550,
        "crawler.downloadermiddlewares.contexts.BrowserContextMiddleware": 950,
    },
    "DOWNLOAD_MAXSIZE": 16 * 1024 * 1024,  # a search page is never this big
    "DOWNLOAD_TIMEOUT": 30,
    "DOWNLOAD_WARNSIZE": 4 * 1024 * 1024,
    "ITEM_PIPELINES": {"crawler.pipelines.images.ImagesPipeline": 200,
                       "crawler.pipelines.store.StorePipeline": 300},
    "LOG_LEVEL": "CRITICAL",  # the sweep summary carries every failure; -v for the log
    "PLAYWRIGHT_ABORT_REQUEST": "crawler.browser_pages.abort_heavy_request",
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
}


def for_profile(profile: MarketplaceProfile, *, db: str | None, sweep_id: int | None,
                campaign: str | None, timeout: float | None = None,
                log_level: str | None = None, chromium: str | None = None,
                ruleset: Any = None) -> dict[str, Any]:
    """The settings of the crawler that sweeps one marketplace."""
    from crawler.browser import launch_options

    s = dict(DEFAULTS)
    s.update({
        "AUTOTHROTTLE_ENABLED": profile.politeness.autothrottle,
        "AUTOTHROTTLE_START_DELAY": max(profile.politeness.delay, 0.1),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(profile.politeness.concurrency),
        "BRANDSWEEP_CAMPAIGN": campaign,
        "BRANDSWEEP_DB": db,
        "BRANDSWEEP_IMAGES_MAX": profile.images.max,
        "BRANDSWEEP_RULESET": ruleset,  # a compiled crawler.rules RuleSet, or None
        "BRANDSWEEP_SWEEP_ID": sweep_id or 0,
        "CONCURRENT_REQUESTS_PER_DOMAIN": profile.politeness.concurrency,
        "DOWNLOAD_DELAY": profile.politeness.delay,
        "ROBOTSTXT_OBEY": profile.politeness.robots_txt,
    })
    if timeout:
        s["DOWNLOAD_TIMEOUT"] = timeout
        s["PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT"] = timeout * 1000
    if log_level:
        s["LOG_LEVEL"] = log_level
    if profile.search.render != "http":
        s["DOWNLOAD_HANDLERS"] = {"http": PLAYWRIGHT_HANDLER, "https": PLAYWRIGHT_HANDLER}
        s["PLAYWRIGHT_LAUNCH_OPTIONS"] = launch_options(chromium, images=False)
    return s
