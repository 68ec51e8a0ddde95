"""Re-evaluating stored listings: ``rules backtest`` (what would change) and ``rules apply``.

The baseline is what the store holds now: each listing's stored verdict when it was made
by the current rule file's version, else the current rule file evaluated afresh. Without a
current rule file (``rules backtest`` with no ``--rules``: the brand's file is the
candidate, as edited) the baseline is the stored verdicts themselves, whichever version
made them, and a listing with none counts as not staged. The
candidate is evaluated on every listing the brand's keywords found. Nothing is written
unless ``apply`` is asked for; then the candidate's verdicts replace the stored ones, in
batches of one transaction each, so a killed apply leaves every listing with one whole
verdict, old or new. Listings are split into disjoint runs of rowids and judged by one
forked process per CPU (the rule sets are inherited, not reloaded); the examples are the
first listings by marketplace and listing id whichever worker judged them.
"""

from __future__ import annotations

import bisect
import json
import multiprocessing
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawler.rules.engine import RuleSet
from crawler.rules.results import Evaluation
from crawler.store import Store

EXAMPLES = 3
BATCH = 2000


@dataclass
class Change:
    listing: str  # marketplace:listing_id
    title: str
    before: str | None
    after: str | None
    score_before: int
    score_after: int
    key: tuple[str, str] = ("", "")  # (marketplace, listing_id): which examples are kept

    def as_dict(self) -> dict[str, Any]:
        return {"listing": self.listing, "title": self.title, "before": self.before,
                "after": self.after, "score_before": self.score_before,
                "score_after": self.score_after}


@dataclass
class BacktestReport:
    brand: str
    current_version: str
    candidate_version: str
    listings: int = 0
    stages_before: Counter[str] = field(default_factory=Counter)
    stages_after: Counter[str] = field(default_factory=Counter)
    changes: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[Change]] = field(default_factory=dict)
    # per rule: listings it newly matches / no longer matches
    rules_gained: Counter[str] = field(default_factory=Counter)
    rules_lost: Counter[str] = field(default_factory=Counter)
    rule_examples: dict[str, list[Change]] = field(default_factory=dict)
    applied: int = 0
    seconds: float = 0.0

    def merge(self, other: BacktestReport) -> None:
        """Fold another shard's report into this one."""
        self.listings += other.listings
        self.applied += other.applied
        self.stages_before.update(other.stages_before)
        self.stages_after.update(other.stages_after)
        self.changes.update(other.changes)
        self.rules_gained.update(other.rules_gained)
        self.rules_lost.update(other.rules_lost)
        for mine, theirs in ((self.examples, other.examples),
                             (self.rule_examples, other.rule_examples)):
            for key, changes in theirs.items():
                mine[key] = sorted([*mine.get(key, []), *changes],
                                   key=lambda c: c.key)[:EXAMPLES]

    def as_dict(self) -> dict[str, Any]:
        return {
            "brand": self.brand, "current_version": self.current_version,
            "candidate_version": self.candidate_version, "listings": self.listings,
            "stages_before": dict(self.stages_before), "stages_after": dict(self.stages_after),
            "changes": dict(self.changes),
            "examples": {k: [c.as_dict() for c in v] for k, v in self.examples.items()},
            "rules": {r: {"gained": self.rules_gained[r], "lost": self.rules_lost[r],
                          "examples": [c.as_dict() for c in self.rule_examples.get(r, [])]}
                      for r in sorted(set(self.rules_gained) | set(self.rules_lost))},
            "applied": self.applied, "seconds": round(self.seconds, 2)}


def _kind(before: str | None, after: str | None) -> str | None:
    if before == after:
        return None
    if before is None:
        return "newly_staged"
    if after is None:
        return "unstaged"
    return "restaged"


def _stored_rules(matches: str | None) -> set[str]:
    if not matches or matches == "[]":  # most verdicts: no rule matched
        return set()
    return {m["rule"] for m in json.loads(matches) if not m.get("suppressed_by")}


STORED = "stored verdicts"  # the baseline's version when it is the store itself


def backtest(store: Store, current: RuleSet | None, candidate: RuleSet,
             apply: bool = False, workers: int | None = None) -> BacktestReport:
    """Compare ``candidate`` with ``current`` (None: the verdicts stored) on every brand
    listing, in ``workers`` processes (default: one per CPU, at most 4) over disjoint
    shards."""
    import time

    started = time.monotonic()
    workers = workers or min(4, os.cpu_count() or 1)
    if apply:
        # SQLite has one writer: workers reading snapshots while others commit would fail
        # with "database is locked", so storing verdicts runs in this process
        workers = 1
    if workers == 1 or sys.platform == "win32":
        report = _shard(store.path, current, candidate, apply, (0, 1))
    else:
        global _JOB
        _JOB = (store.path, current, candidate, apply)  # inherited by the forked workers
        context = multiprocessing.get_context("fork")
        with context.Pool(workers) as pool:
            parts = pool.map(_run_shard, [(k, workers) for k in range(workers)])
        _JOB = None
        report = parts[0]
        for part in parts[1:]:
            report.merge(part)
    report.seconds = time.monotonic() - started
    return report


_JOB: tuple[Path, RuleSet | None, RuleSet, bool] | None = None


def _run_shard(shard: tuple[int, int]) -> BacktestReport:
    assert _JOB is not None
    path, current, candidate, apply = _JOB
    return _shard(path, current, candidate, apply, shard)


def _shard(path: Path, current: RuleSet | None, candidate: RuleSet, apply: bool,
           shard: tuple[int, int]) -> BacktestReport:
    from crawler.store.db import READING_CACHE_MIB

    store = Store(path, cache_mib=READING_CACHE_MIB)  # it reads the brand's every listing
    report = BacktestReport(candidate.brand_key, current.version if current else STORED,
                            candidate.version)
    pending: list[tuple[str, str, str, int, str | None, str]] = []
    keywords = (current or candidate).brand.keywords
    for row in store.listings_for(keywords, brand=candidate.brand_key, shard=shard):
        report.listings += 1
        if current is None or row["_version"] == current.version:
            before, score_before = row["_stage"], row["_score"] or 0
            rules_before = _stored_rules(row["_matches"])
        else:
            old = current.evaluate(row)
            before, score_before = old.stage, old.score
            rules_before = {r.rule for r in old.matched if not r.suppressed_by}
        new = candidate.evaluate(row)
        rules_after = {r.rule for r in new.matched if not r.suppressed_by}
        report.stages_before[before or "none"] += 1
        report.stages_after[new.stage or "none"] += 1
        kind = _kind(before, new.stage)
        if kind is not None or rules_after != rules_before:  # most listings: nothing to tell
            change = Change(f"{row['marketplace']}:{row['listing_id']}", row["title"],
                            before, new.stage, score_before, new.score,
                            (row["marketplace"], row["listing_id"]))
            if kind is not None:
                report.changes[kind] += 1
                _keep(report.examples.setdefault(kind, []), change)
            for rule in rules_after - rules_before:
                report.rules_gained[rule] += 1
                _example(report, rule, change)
            for rule in rules_before - rules_after:
                report.rules_lost[rule] += 1
                _example(report, rule, change)
        if apply:
            pending.append(row_of(row, new))
            if len(pending) >= BATCH:
                report.applied += store.save_evaluations(candidate.brand_key, pending)
                pending = []
    if pending:
        report.applied += store.save_evaluations(candidate.brand_key, pending)
    return report


def row_of(listing: dict[str, Any], evaluation: Evaluation
           ) -> tuple[str, str, str, int, str | None, str]:
    """An evaluations-table row for ``Store.save_evaluations``."""
    return (listing["marketplace"], listing["listing_id"], evaluation.version,
            evaluation.score, evaluation.stage,
            json.dumps([r.as_dict() for r in evaluation.matched], ensure_ascii=False))


def _example(report: BacktestReport, rule: str, change: Change) -> None:
    _keep(report.rule_examples.setdefault(rule, []), change)


def _keep(examples: list[Change], change: Change) -> None:
    """Keep the ``EXAMPLES`` changes first by marketplace and listing id, in whatever
    order the listings come (a shard reads its part in rowid order), so the examples do
    not depend on how many workers judged."""
    if len(examples) < EXAMPLES or change.key < examples[-1].key:
        bisect.insort(examples, change, key=lambda c: c.key)
        del examples[EXAMPLES:]
