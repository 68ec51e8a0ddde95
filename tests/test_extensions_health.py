"""The health extension copies the spider's health into the crawler's stats when the
spider closes, after the spider has decided how its keywords ended."""

from __future__ import annotations

from scrapy import signals
from scrapy.utils.test import get_crawler

from crawler.extensions.health import CONTEXTS_CLOSED, HEALTH, PAGES_REUSED, HealthExtension
from crawler.profiles.loading import load_profiles
from crawler.settings import DEFAULTS
from spiders.profile import ProfileSpider


def test_the_health_lands_in_the_stats_after_the_spiders_own_verdict() -> None:
    profile = load_profiles()["bazaar"]
    crawler = get_crawler(ProfileSpider, DEFAULTS | {"EXTENSIONS": {}})
    spider = ProfileSpider.from_crawler(crawler, profile=profile, keywords=["acme", "acme x"])
    crawler.spider = spider
    # built after the spider, as in a real crawl (signals hold receivers weakly: kept)
    extension = HealthExtension.from_crawler(crawler)
    spider.outcome["acme"] = "results"  # "acme x" never got a results page
    spider.health.pages["http"] = 3
    crawler.signals.send_catch_log(signals.spider_closed, spider=spider, reason="finished")
    assert crawler.stats is not None
    health = crawler.stats.get_value(HEALTH)
    assert health == spider.health.as_dict()
    assert health["status"] == "failed" and "'acme x'" in health["reason"]
    assert health["pages"] == {"http": 3, "browser": 0}
    # no browser page was opened: no rotation, nothing closed or reused
    assert crawler.stats.get_value(CONTEXTS_CLOSED) == 0
    assert crawler.stats.get_value(PAGES_REUSED) == 0
    assert extension.crawler is crawler
