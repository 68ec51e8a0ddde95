"""Sweep monitors: each marketplace's sweep judged against its own history.

The failure a monitoring crawler fears most is the quiet one: a marketplace renames its
seller element, the cards still parse, and every listing now has no seller. After each
sweep every marketplace that ended ``ok`` is compared with the median of its last healthy
sweeps for the same brand (or campaign): listings found, result pages fetched, and the
coverage of each field its profile extracts (the share of listings that have it). A fall
past the profile's ``monitor`` thresholds makes it ``degraded`` (exit 3), saying which
figure fell and from what: "seller on 0% of listings, was 98%".

Only ``ok`` sweeps are history: a degraded, blocked or failed sweep never becomes the
baseline, so a marketplace that broke stays degraded until its profile is fixed (or the
field is listed in ``monitor.ignore``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from statistics import median
from typing import TYPE_CHECKING, Any

from crawler.store import Store
from crawler.vocab import REQUIRED_FIELDS

if TYPE_CHECKING:  # the report imports ``percent``: it need not load every profile model
    from crawler.profiles.model import MarketplaceProfile

DEGRADED = "degraded"  # the per-marketplace health status a notification can trigger on


@dataclass(frozen=True)
class Drop:
    """One figure that fell past its threshold."""

    what: str  # "listings", "pages" or "coverage"
    field: str | None  # the listing field, for coverage
    now: float  # a count, or a share in [0, 1] for coverage
    was: float  # the median of the earlier sweeps
    sweeps: int  # how many earlier sweeps the median is of

    def describe(self) -> str:
        """``seller on 0% of listings, was 98%`` and the like."""
        if self.what == "coverage":
            return f"{self.field} on {percent(self.now)} of listings, was {percent(self.was)}"
        noun = "listings found" if self.what == "listings" else "result pages"
        return f"{self.now:g} {noun}, was {self.was:g}"


def percent(share: float) -> str:
    """A share as people read it: ``98%``, ``<1%`` (not 0) and ``>99%`` (not 100)."""
    if 0 < share < 0.01:
        return "<1%"
    if 0.99 < share < 1:
        return ">99%"
    return f"{share * 100:.0f}%"


def monitored_fields(profile: MarketplaceProfile) -> list[str]:
    """The fields whose coverage is watched: every field the profile extracts (on cards,
    and on detail pages unless it never fetches them) except the required ones (no card
    without them) and ``ignore``."""
    detail = profile.detail.fields if profile.detail.when != "never" else {}
    fields = dict.fromkeys([*profile.listing.fields, *detail])
    return [f for f in fields if f not in REQUIRED_FIELDS and f not in profile.monitor.ignore]


def plan_key(keywords: list[str], max_pages: int | None) -> str:
    """Listings and pages compare only between sweeps of the same keywords and page limit."""
    return json.dumps({"keywords": sorted(keywords), "max_pages": max_pages or 0},
                      sort_keys=True)


def judge(now: dict[str, Any], history: list[dict[str, Any]], profile: MarketplaceProfile,
          plan: str) -> list[Drop]:
    """What fell: ``now`` and each of ``history`` (newest first) hold ``listings``,
    ``pages``, ``coverage`` ({field: listings with it}) and ``plan``."""
    m = profile.monitor
    earlier = history[:m.history]
    if len(earlier) < m.min_sweeps:
        return []  # a first sweep has nothing to be compared with
    drops: list[Drop] = []
    same_plan = [h for h in earlier if h["plan"] == plan]
    if len(same_plan) >= m.min_sweeps:
        for what, threshold in (("listings", m.listings_drop), ("pages", m.pages_drop)):
            was = float(median(h[what] for h in same_plan))
            # a handful of listings comes and goes: too few to call a fall a fault
            enough = was >= m.min_listings if what == "listings" else was > 0
            if threshold is not None and enough and now[what] < was * (1 - threshold):
                drops.append(Drop(what, None, now[what], was, len(same_plan)))
    if m.coverage_drop is None or now["listings"] < m.min_listings:
        return drops
    judged = [h for h in earlier if h["listings"] >= m.min_listings]
    if len(judged) < m.min_sweeps:
        return drops
    for name in monitored_fields(profile):
        was = float(median(h["coverage"].get(name, 0) / h["listings"] for h in judged))
        share = now["coverage"].get(name, 0) / now["listings"]
        if was > 0 and share < was * (1 - m.coverage_drop):
            drops.append(Drop("coverage", name, share, was, len(judged)))
    return drops


def check(store: Store, profiles: list[MarketplaceProfile], health: dict[str, dict[str, Any]],
          *, sweep_id: int, kind: str, brand: str | None, campaign: str | None,
          keywords: list[str], max_pages: int | None) -> list[str]:
    """Record every crawled marketplace's figures for ``sweep_id`` and mark the ``ok``
    ones whose figures fell ``degraded`` in ``health`` (each gains ``coverage``, and
    ``degraded``: what fell); return the names of the degraded ones. Marketplaces a
    resumed sweep had already finished are left alone."""
    from crawler.store import monitor as store_monitor

    plan = plan_key(keywords, max_pages)
    degraded = []
    for profile in profiles:
        h = health.get(profile.name)
        if h is None or h.get("resumed"):
            continue
        fields = monitored_fields(profile)
        listings, counts = store_monitor.field_counts(store.db, sweep_id, profile.name,
                                                      fields)
        pages = h.get("pages", {})
        now = {"listings": listings, "pages": sum(pages.values()), "coverage": counts,
               "plan": plan}
        h["coverage"] = {f: round(n / listings, 4) if listings else None
                         for f, n in counts.items()}
        drops: list[Drop] = []
        if h.get("status") == "ok":
            earlier = store_monitor.history(
                store.db, marketplace=profile.name, kind=kind, brand=brand,
                campaign=campaign, before=sweep_id, limit=profile.monitor.history)
            drops = judge(now, earlier, profile, plan)
            if drops:
                h["status"] = DEGRADED
                n = max(d.sweeps for d in drops)
                h["reason"] = "; ".join(d.describe() for d in drops) + (
                    f" (median of the {n} sweeps before)" if n > 1 else
                    " (the sweep before)")
                h["degraded"] = [asdict(d) | {"text": d.describe()} for d in drops]
                degraded.append(profile.name)
        store_monitor.record(store.db, sweep_id=sweep_id, marketplace=profile.name,
                             kind=kind, brand=brand, campaign=campaign, plan=plan,
                             status=str(h.get("status")), listings=listings,
                             pages=now["pages"], coverage=counts,
                             degraded=[d.field or d.what for d in drops])
    return degraded
