"""Takedown outcomes: what the brand's submitted notices achieved, per marketplace and
notice program, from the cases' own history (``brandsweep verify`` and relisting links).

For each listing of a submitted notice: ``removed`` once verify found it gone (it stays
counted when its seller comes back later), ``still_live`` while verify finds it up,
``pending`` until verify has looked, and ``relisted`` when a sweep found its seller back
with the same product. Times run from the notice's submission to the verify run that
first found the listing gone: an upper bound, as close as the verify schedule is.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from crawler.store import Store

RELIST_WINDOW = timedelta(days=30)  # a relisting counts within this time of the removal


@dataclass
class Outcome:
    """The figures of one marketplace and program (or of all of them)."""

    marketplace: str
    program: str
    # what a brand reports first, then the counts behind it
    removal_rate: float | None = None  # removed / listings
    relist_rate_30d: float | None = None  # relisted_30d / removed
    median_seconds: float | None = None  # submitted -> found removed
    p90_seconds: float | None = None
    notices: int = 0
    listings: int = 0
    removed: int = 0
    still_live: int = 0
    pending: int = 0
    relisted: int = 0  # removed listings whose seller came back (at any time)
    relisted_30d: int = 0  # ... within RELIST_WINDOW of the removal


@dataclass
class Outcomes:
    """Every group, the total, and per day: listings submitted, found removed, relisted."""

    brand: str | None
    since: str | None
    groups: list[Outcome] = field(default_factory=list)
    total: Outcome = field(default_factory=lambda: Outcome("all", "all"))
    timeline: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"brand": self.brand, "since": self.since,
                "groups": [asdict(g) for g in self.groups], "total": asdict(self.total),
                "timeline": self.timeline}


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def p90(values: list[float]) -> float:
    """The 90th percentile by nearest rank: a value that was really seen."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def gather(store: Store, brand: str | None = None, since: str | None = None) -> Outcomes:
    """The outcomes of ``brand``'s notices (every brand's when None) submitted at or after
    ``since`` (an ISO date or time, UTC)."""
    from crawler.store import outcomes as store_outcomes

    rows = store_outcomes.submitted_items(store, brand, since)
    out = Outcomes(brand, since)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["marketplace"], r["program"]), []).append(r)
    for (market, program), items in sorted(groups.items()):
        out.groups.append(_figures(Outcome(market, program), items))
    out.total = _figures(Outcome("all", "all"), rows)
    days: dict[str, dict[str, int]] = {}
    for r in rows:
        for key, at in (("submitted", r["submitted_at"]), ("removed", r["removed_at"]),
                        ("relisted", r["relisted_at"] if r["removed_at"] else None)):
            if at:
                day = days.setdefault(at[:10], {"submitted": 0, "removed": 0,
                                                "relisted": 0})
                day[key] += 1
    out.timeline = dict(sorted(days.items()))
    return out


def _figures(o: Outcome, items: list[dict[str, Any]]) -> Outcome:
    """Fill ``o`` from the rows of its listings (one per listing and notice)."""
    o.notices = len({r["notice_id"] for r in items})
    o.listings = len(items)
    waits: list[float] = []
    for r in items:
        if r["removed_at"]:
            o.removed += 1
            waits.append((_time(r["removed_at"]) - _time(r["submitted_at"])).total_seconds())
            if r["relisted_at"]:
                o.relisted += 1
                if _time(r["relisted_at"]) - _time(r["removed_at"]) <= RELIST_WINDOW:
                    o.relisted_30d += 1
        elif r["status"] == "still_live":
            o.still_live += 1
        else:
            o.pending += 1
    if o.listings:
        o.removal_rate = round(o.removed / o.listings, 4)
    if waits:
        o.median_seconds = round(float(median(waits)), 3)
        o.p90_seconds = round(p90(waits), 3)
        o.relist_rate_30d = round(o.relisted_30d / o.removed, 4)
    return o


def duration(seconds: float | None) -> str:
    """``45s``, ``12m``, ``3.5h``, ``2.0d``; ``-`` for none."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def rate(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def text(o: Outcomes) -> list[str]:
    """The outcomes as a table for a terminal or a cron mail."""
    scope = (f"brand {o.brand}" if o.brand else "every brand") + (
        f", submitted since {o.since}" if o.since else "")
    if not o.groups:
        return [f"takedown outcomes ({scope}): no submitted notices yet; `brandsweep "
                "notices mark-submitted` records them"]
    w = max([12, *(len(g.marketplace) + 1 for g in o.groups)])
    pw = max([10, *(len(g.program) + 1 for g in o.groups)])
    lines = [f"takedown outcomes ({scope})",
             f"  {'marketplace':<{w}} {'program':<{pw}} {'notices':>7} {'listings':>8} "
             f"{'removed':>7} {'live':>5} {'pending':>7} {'relisted':>8} {'rate':>5} "
             f"{'median':>7} {'p90':>7} {'relist30d':>9}"]
    for g in [*o.groups, o.total]:
        lines.append(
            f"  {g.marketplace:<{w}} {g.program:<{pw}} {g.notices:>7} {g.listings:>8} "
            f"{g.removed:>7} {g.still_live:>5} {g.pending:>7} {g.relisted:>8} "
            f"{rate(g.removal_rate):>5} {duration(g.median_seconds):>7} "
            f"{duration(g.p90_seconds):>7} {rate(g.relist_rate_30d):>9}")
    return lines


def chart(timeline: dict[str, dict[str, int]], colours: tuple[str, ...]) -> dict[str, Any]:
    """Grouped bars per day (``Outcomes.timeline``) for an inline SVG: listings
    submitted, found removed, relisted."""
    keys = ("submitted", "removed", "relisted")
    days = list(timeline)[-30:]  # the last 30 days with any event
    top = max([timeline[d][k] for d in days for k in keys] + [1])
    width = max(460, 70 + 48 * len(days))
    bars = []
    for i, d in enumerate(days):
        for j, k in enumerate(keys):
            n = timeline[d][k]
            h = 160 * n / top
            bars.append({"x": 50 + i * 48 + j * 13, "y": round(190 - h, 1),
                         "h": round(h, 1), "n": n, "label": f"{d} {k}",
                         "colour": colours[j % len(colours)]})
    return {"days": [(70 + i * 48, d[5:]) for i, d in enumerate(days)], "bars": bars,
            "top": top, "width": width, "legend": [(k, colours[j % len(colours)])
                                                 for j, k in enumerate(keys)]}
