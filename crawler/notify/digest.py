"""One digest per sweep (or verify run): what happened, gathered once from the store and
the sweep's health, then rendered per channel with only the parts its triggers ask for.

Never one message per listing: the new cases are counted per marketplace and stage, and
only the top ``TOP_CASES`` are listed (with their photo's thumbnail when the store has
one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from crawler.notices.escaping import is_web_url, money, shown, shown_url
from crawler.notify.config import Channel
from crawler.notify.deliver import Attachment
from crawler.store import Store
from crawler.store import outbox as store_outbox

TOP_CASES = 10  # cases a digest lists; the rest are counted
TITLE_CHARS = 120
_LABELS = {"ok": "ok", "blocked": "BLOCKED", "extraction_failed": "EXTRACTION FAILED",
           "failed": "FAILED", "degraded": "DEGRADED"}

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("crawler.notify", "templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",),
                                        default_for_string=False),
    undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    finalize=lambda v: "" if v is None else v, keep_trailing_newline=True)
_ENV.filters["money"] = money
_ENV.filters["web_url"] = lambda u: shown_url(u) if is_web_url(u) else None


def health_trigger(status: str) -> str | None:
    """The trigger a marketplace's status fires: ``ok`` none, ``BLOCKED`` / ``blocked``
    marketplace_blocked, DEGRADED marketplace_degraded, any other (FAILED, EXTRACTION
    FAILED, a status added later) marketplace_failed."""
    key = "_".join(str(status).strip().lower().split())
    if key in ("ok", ""):
        return None
    return {"blocked": "marketplace_blocked", "degraded": "marketplace_degraded"}.get(
        key, "marketplace_failed")


@dataclass
class CaseLine:
    id: int
    marketplace: str
    listing_id: str
    stage: str | None
    score: int
    title: str
    url: str | None
    price: str | None
    currency: str | None
    seller: str | None
    thumbnail: Path | None  # on disk, or None
    relisted_from: int | None = None

    @property
    def cid(self) -> str | None:
        return self.thumbnail.name if self.thumbnail is not None else None


@dataclass
class MarketProblem:
    marketplace: str
    status: str  # as people read it: BLOCKED, FAILED, ...
    trigger: str
    reason: str


@dataclass
class Digest:
    """What one sweep or verify run has to tell, before any channel's choice."""

    kind: str  # sweep, crawl or verify
    brand: str | None
    sweep_id: int | None
    status: str | None = None  # the sweep's: ok, partial, failed
    top_stage: str | None = None  # the rule set's highest stage (new_takedowns)
    new: list[CaseLine] = field(default_factory=list)  # highest score first
    problems: list[MarketProblem] = field(default_factory=list)
    relisted: list[CaseLine] = field(default_factory=list)
    removed: list[CaseLine] = field(default_factory=list)
    marketplaces: dict[str, str] = field(default_factory=dict)  # name -> status label


@dataclass
class Message:
    title: str
    text: str
    html: str
    triggers: list[str]
    attachments: list[Attachment]


def _line(row: dict[str, Any], images: Path | None) -> CaseLine:
    thumb = images / row["thumbnail"] if images is not None and row.get("thumbnail") else None
    return CaseLine(id=int(row["id"]), marketplace=str(shown(row["marketplace"], 60)),
                    listing_id=str(shown(row["listing_id"], 60)), stage=row["stage"],
                    score=int(row["score"] or 0),
                    title=str(shown(row["title"] or "", TITLE_CHARS)), url=row["url"],
                    price=row["price"], currency=row["currency"],
                    seller=shown(row["seller"], 60) if row["seller"] else None,
                    thumbnail=thumb if thumb is not None and thumb.is_file() else None,
                    relisted_from=row.get("relisted_from"))


def for_sweep(store: Store, *, kind: str, brand: str | None, sweep_id: int, status: str,
              marketplaces: dict[str, dict[str, Any]], top_stage: str | None,
              images: Path | None) -> Digest:
    """Gather a sweep's digest: its new cases and relistings (a brand's sweep), and every
    marketplace that did not end ok."""
    digest = Digest(kind, brand, sweep_id, status, top_stage)
    for name, health in marketplaces.items():
        label = _LABELS.get(str(health.get("status")), str(health.get("status")))
        digest.marketplaces[name] = label
        trigger = health_trigger(str(health.get("status", "")))
        if trigger is not None:
            digest.problems.append(MarketProblem(
                str(shown(name, 60)), label, trigger,
                str(shown(health.get("reason") or "", 300))))
    if brand:
        digest.new = [_line(r, images) for r in store_outbox.opened_by(store, brand, sweep_id)]
        digest.relisted = [_line(r, images)
                           for r in store_outbox.relisted_by(store, brand, sweep_id)]
    return digest


def for_verify(store: Store, *, brand: str, removed: list[int], images: Path | None
               ) -> Digest:
    """A verify run's digest: the cases it found removed."""
    digest = Digest("verify", brand, None)
    digest.removed = [_line(r, images) for r in store_outbox.cases_by_id(store, removed)]
    return digest


def message(digest: Digest, channel: Channel) -> Message | None:
    """The message ``channel`` gets about ``digest``, or None when none of its triggers
    fired (a quiet night sends nothing unless it asked for every_sweep)."""
    fired: list[str] = []
    takedowns = [c for c in digest.new if digest.top_stage and c.stage == digest.top_stage]
    high = [c for c in digest.new
            if channel.min_score is not None and c.score >= channel.min_score]
    shown_cases: list[CaseLine] = []
    if channel.wants("new_cases") and digest.new:
        fired.append("new_cases")
        shown_cases = digest.new
    if channel.wants("new_takedowns") and takedowns:
        fired.append("new_takedowns")
        shown_cases = shown_cases or takedowns
    if channel.wants("high_score") and high:
        fired.append("high_score")
        shown_cases = shown_cases or high
    problems = [p for p in digest.problems if channel.wants(p.trigger)]
    fired.extend(dict.fromkeys(p.trigger for p in problems))
    relisted = digest.relisted if channel.wants("relisted") else []
    if relisted:
        fired.append("relisted")
    removed = digest.removed if channel.wants("verified_removed") else []
    if removed:
        fired.append("verified_removed")
    if not fired and channel.wants("every_sweep") and digest.kind != "verify":
        fired.append("every_sweep")
    if not fired:
        return None
    counts: dict[str, dict[str, int]] = {}
    for c in digest.new:
        per = counts.setdefault(c.marketplace, {})
        per[c.stage or "none"] = per.get(c.stage or "none", 0) + 1
    stages = sorted({s for per in counts.values() for s in per},
                    key=lambda s: (s != digest.top_stage, s))
    top = shown_cases[:TOP_CASES]
    title = _title(digest, fired, takedowns, high, problems, relisted, removed)
    context: dict[str, Any] = {
        "d": digest, "fired": fired, "title": title,
        "counts": counts if shown_cases else {}, "stages": stages, "top": top,
        "more": max(0, len(shown_cases) - len(top)), "takedowns": len(takedowns),
        "high": high, "min_score": channel.min_score, "problems": problems,
        "relisted": relisted[:TOP_CASES], "removed": removed[:TOP_CASES],
        "removed_more": max(0, len(removed) - TOP_CASES),
        "relisted_more": max(0, len(relisted) - TOP_CASES),
    }
    text = _ENV.get_template("digest.txt.j2").render(**context)
    html = _ENV.get_template("digest.html.j2").render(**context)
    pictured = [*top, *context["relisted"], *context["removed"]]
    attachments = list(dict.fromkeys(Attachment(c.thumbnail) for c in pictured
                                     if c.thumbnail is not None))
    return Message(title, text, html, fired, attachments)


def _title(digest: Digest, fired: list[str], takedowns: list[CaseLine],
           high: list[CaseLine], problems: list[MarketProblem], relisted: list[CaseLine],
           removed: list[CaseLine]) -> str:
    what = []
    if "new_cases" in fired:
        what.append(f"{_n(len(digest.new), 'new case')}")
    if "new_takedowns" in fired:
        what.append(f"{len(takedowns)} new {digest.top_stage}")
    if "high_score" in fired and "new_cases" not in fired:
        what.append(f"{_n(len(high), 'high-scoring case')}")
    what.extend(f"{p.marketplace} {p.status}" for p in problems)
    if relisted:
        what.append(_n(len(relisted), "relisting"))
    if removed:
        what.append(f"{len(removed)} removed")
    if not what:
        what.append(f"{digest.status or 'done'}, nothing new")
    head = " ".join(["brandsweep:", *([digest.brand] if digest.brand else []), digest.kind])
    if digest.sweep_id is not None:
        head += f" {digest.sweep_id}"
    return f"{head}: {', '.join(what)}"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def test_message() -> Message:
    """What ``brandsweep notify test URL`` sends."""
    context = {"title": "brandsweep: test message"}
    return Message(context["title"], _ENV.get_template("test.txt.j2").render(**context),
                   _ENV.get_template("test.html.j2").render(**context), ["test"], [])
