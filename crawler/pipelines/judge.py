"""Judges each batch of listings with the brand's rule set as soon as it is stored.

The crawler's settings carry the rule file's path and version (plain data, like every
setting); the compiled rule set is loaded here, once per process for each path, version
and day (an exception of a rule expires by date), and shared by every crawl that asks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from pathlib import Path
from typing import Any, Self

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler.exceptions import RuleSetChanged
from crawler.items import Listing
from crawler.pipelines.store import listings_saved
from crawler.rules.engine import RuleSet
from crawler.store import Store
from crawler.store.judging import facts, stored_descriptions

# (path, version, day) -> the rule set compiled from that file; one entry per path (a
# long-running process that sees a file change, or a new day, keeps only the latest)
_COMPILED: dict[tuple[str, str, str], RuleSet] = {}


def remember(ruleset: RuleSet) -> None:
    """Make ``ruleset`` the one crawls in this process judge with for its path, version
    and day: a sweep that compiled it already is not made to compile it again."""
    _keep((ruleset.path, ruleset.version, ruleset.today.isoformat()), ruleset)


def _keep(key: tuple[str, str, str], ruleset: RuleSet) -> None:
    for old in [k for k in _COMPILED if k[0] == key[0] and k != key]:
        del _COMPILED[old]
    _COMPILED[key] = ruleset


def compiled(path: str, version: str, day: dt.date | None = None) -> RuleSet:
    """The rule set of the file at ``path``, compiled once per process; raises
    ``RuleSetChanged`` when the file no longer has ``version``."""
    from crawler.rules.loader import load

    day = day or dt.date.today()
    key = (path, version, day.isoformat())
    found = _COMPILED.get(key)
    if found is None:
        found = load(Path(path), day)
        if found.version != version:
            raise RuleSetChanged(path, version, found.version)
        _keep(key, found)
    return found


class JudgePipeline:
    """Evaluates the listings ``crawler.pipelines.store.StorePipeline`` has just written
    (its ``listings_saved`` signal) and stores the verdicts. Settings:
    ``BRANDSWEEP_RULES_PATH`` and ``BRANDSWEEP_RULES_VERSION``, with ``BRANDSWEEP_RULES_DATE``
    (ISO date) as the day to judge as of."""

    def __init__(self, crawler: Crawler, ruleset: RuleSet, sweep_id: int) -> None:
        self.crawler = crawler
        self.ruleset = ruleset
        self.sweep_id = sweep_id
        self.evaluated = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        s = crawler.settings
        path, version = s.get("BRANDSWEEP_RULES_PATH"), s.get("BRANDSWEEP_RULES_VERSION")
        if not path or not version:
            raise NotConfigured("no rule set: BRANDSWEEP_RULES_PATH and "
                                "BRANDSWEEP_RULES_VERSION unset")
        if not s.get("BRANDSWEEP_DB") or not s.getint("BRANDSWEEP_SWEEP_ID"):
            raise NotConfigured("no store: BRANDSWEEP_DB and BRANDSWEEP_SWEEP_ID unset")
        day = s.get("BRANDSWEEP_RULES_DATE")
        ruleset = compiled(str(path), str(version),
                           dt.date.fromisoformat(day) if day else None)
        pipeline = cls(crawler, ruleset, s.getint("BRANDSWEEP_SWEEP_ID"))
        crawler.signals.connect(pipeline.judge, signal=listings_saved)
        return pipeline

    def process_item(self, item: Any) -> Any:
        return item

    def judge(self, store: Store, listings: list[Listing]) -> None:
        """``listings_saved``: judge what the store wrote, as the store now holds it."""
        stats = self.crawler.stats
        try:
            self.evaluated += self.evaluate(store, listings)
        except Exception as exc:
            # the verdicts of the batch rolled back as a whole; say so in the sweep's health
            if stats is not None:
                stats.inc_value("brandsweep/store_errors")
                stats.set_value("brandsweep/store_error", f"{type(exc).__name__}: {exc}")
            raise
        if stats is not None:
            stats.set_value("brandsweep/evaluated", self.evaluated)

    def evaluate(self, store: Store, listings: list[Listing]) -> int:
        """Judge each listing (the last sighting of each, as ``Store.save`` keeps it) and
        keep the verdicts; a crash between the store's write and this one is repaired by
        the next sweep or ``rules apply``, which judge every listing again."""
        from crawler.rules.backtest import row_of

        rs = self.ruleset
        latest = {(i.marketplace, i.listing_id): i for i in listings}
        keys = list(latest)
        # a listing seen again without a description keeps the one stored before
        old = stored_descriptions(store, [k for k, i in latest.items()
                                          if i.description is None])
        found = facts(store, rs.brand_key, keys)
        rows = []
        for key, item in latest.items():
            row = asdict(item)
            if row["description"] is None:
                row["description"] = old.get(key)
            row["_facts"] = found.get(key)
            rows.append(row_of(row, rs.evaluate(row)))
        return store.save_evaluations(rs.brand_key, rows, self.sweep_id)
