"""Drafting: turn cases ready for a notice into draft notices, grouped the way each
program wants them.

A case is ready when a person confirmed it, or when its stage drafts automatically
(``draft: auto`` in the rule set), and its evidence is captured. Cases are grouped by
marketplace program and seller and split at the program's per-notice limit. Each notice,
its items and its cases' move to ``noticed`` are one transaction, and a unique index keeps
a listing in at most one notice per program: drafting again adds only what is new, and a
killed run leaves whole notices or none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from crawler.cases import lifecycle as case_log
from crawler.exceptions import NoticeFieldMissing
from crawler.notices.programs import PROGRAMS, STOREFRONT_PROGRAMS, VERO_REASONS, Program
from crawler.profiles.model import MarketplaceProfile
from crawler.store import Store, now
from crawler.store import notices as notice_rows


@dataclass
class DraftResult:
    notices: list[int] = field(default_factory=list)
    items: int = 0
    waiting_evidence: int = 0  # ready cases held back until their evidence is captured
    by_program: dict[str, int] = field(default_factory=dict)  # new notices per program
    joined: dict[int, int] = field(default_factory=dict)  # unsent draft -> items it gained


def identity(ruleset: Any, program: Program) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The sender and the trademark a ``program`` notice cites for this brand; raises
    ``NoticeFieldMissing`` naming the first missing field and the file to fix."""
    brand = ruleset.brand
    owner = brand.rights_owner.model_dump() if brand.rights_owner else {}
    for name in program.required:
        if not owner.get(name):
            raise NoticeFieldMissing(
                f"{ruleset.path}: brand.rights_owner.{name} is required by {program.name} "
                f"notices ({program.title}); add it to the rule set and draft again")
    mark = None
    if program.trademark_field:
        marks = [t for t in brand.trademarks if getattr(t, program.trademark_field)]
        if not marks:
            raise NoticeFieldMissing(
                f"{ruleset.path}: brand.trademarks needs an entry with "
                f"{program.trademark_field} for {program.name} notices ({program.title}); "
                "add the registration and draft again")
        mark = marks[0].model_dump()
    sender = {k: v for k, v in owner.items() if v} | {"brand": brand.name}
    return sender, mark


def registrations(ruleset: Any) -> list[dict[str, Any]]:
    """Every registration of the brand's marks that has a number or an IP record: what a
    notice that names no single one (the plain email) cites."""
    return [t.model_dump() for t in ruleset.brand.trademarks
            if getattr(t, "number", None) or getattr(t, "ip_record", None)]


def draft(store: Store, ruleset: Any, profiles: dict[str, MarketplaceProfile], by: str,
          sweep_id: int | None = None) -> DraftResult:
    """Draft notices for every ready case of ``ruleset``'s brand that is in none yet."""
    brand = ruleset.brand_key
    auto = [s.name for s in ruleset.stages if s.draft == "auto"]
    result = DraftResult()
    rows = notice_rows.ready(store, brand, auto)
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    contacts: dict[str, str | None] = {}
    for row in rows:
        profile = profiles.get(row["marketplace"])
        if profile is None:
            continue  # no profile, no program: `review list` still shows the case
        if row["captured_at"] is None:
            result.waiting_evidence += 1
            continue
        key = (profile.notice_program, row["marketplace"], row["seller"] or "")
        contacts[row["marketplace"]] = profile.notice_contact
        groups.setdefault(key, []).append(row)
    senders = {p: identity(ruleset, PROGRAMS[p]) for p in {k[0] for k in groups}}
    rules = {r.rule.id: r.rule for r in ruleset.rules}
    for (program_name, market, seller), items in sorted(groups.items()):
        program = PROGRAMS[program_name]
        sender, mark = senders[program_name]
        # an unsent draft is still a draft: new items of its seller join it, up to the
        # program's limit; only what is left over starts new notices
        items = _join_drafts(store, ruleset, program, market, seller, items, rules, by,
                             sweep_id, result)
        chunks = [items[i:i + program.limit] for i in range(0, len(items), program.limit)]
        for part, chunk in enumerate(chunks, 1):
            notice_id = _write(store, ruleset, program, market, seller, sender, mark,
                               chunk, rules, (part, len(chunks)), contacts[market], by,
                               sweep_id)
            if notice_id is not None:
                result.notices.append(notice_id)
                result.items += len(chunk)
                result.by_program[program_name] = result.by_program.get(program_name, 0) + 1
    return result


def _write(store: Store, ruleset: Any, program: Program, market: str, seller: str,
           sender: dict[str, Any], mark: dict[str, Any] | None, chunk: list[dict[str, Any]],
           rules: dict[str, Any], part: tuple[int, int], recipient: str | None, by: str,
           sweep_id: int | None) -> int | None:
    at = now()
    with store.transaction():
        # another drafting run may have taken some of these cases meanwhile
        taken = notice_rows.taken(store, program.name, [c["id"] for c in chunk])
        chunk = [c for c in chunk if c["id"] not in taken]
        if not chunk:
            return None
        notice_id = notice_rows.insert(store, {
            "brand": ruleset.brand_key, "program": program.name, "marketplace": market,
            "seller": seller, "ip_type": program.ip_type, "created_at": at,
            "created_by": by, "sweep_id": sweep_id, "part": part[0], "parts": part[1],
            "sender": json.dumps(sender, ensure_ascii=False),
            "rights": json.dumps({"trademark": mark, "trademarks": registrations(ruleset),
                                  "products": [p.name for p in ruleset.brand.products]},
                                 ensure_ascii=False),
            "recipient": recipient, "ruleset_version": ruleset.version})
        _insert_items(store, ruleset, program, market, notice_id, 1, chunk, rules)
        case_log.transition(store, [c["id"] for c in chunk], "notice", by,
                            f"in draft notice {notice_id} ({program.name})", sweep_id)
    return notice_id


def _insert_items(store: Store, ruleset: Any, program: Program, market: str, notice_id: int,
                  first: int, chunk: list[dict[str, Any]], rules: dict[str, Any]) -> None:
    """The notice's items, numbered from ``first``; inside the caller's transaction."""
    for position, c in enumerate(chunk, first):
        code, reason, matched = _reason(c, rules, program)
        evidence = {k: c[k] for k in ("captured_at", "screenshot", "screenshot_sha256",
                                      "html", "html_sha256", "image_sha256")}
        notice_rows.insert_item(store, {
            "notice_id": notice_id, "case_id": c["id"], "position": position,
            "brand": ruleset.brand_key, "program": program.name, "marketplace": market,
            "listing_id": c["listing_id"], "url": c["url"], "title": c["title"],
            "price": c["price"], "currency": c["currency"], "seller": c["seller"],
            "reason_code": code, "reason": reason, "rules": json.dumps(matched),
            "evidence": json.dumps(evidence)})


def _join_drafts(store: Store, ruleset: Any, program: Program, market: str, seller: str,
                 items: list[dict[str, Any]], rules: dict[str, Any], by: str,
                 sweep_id: int | None, result: DraftResult) -> list[dict[str, Any]]:
    """Add ``items`` to the seller's unsent drafts of ``program`` that have room (oldest
    first), each addition an audit event of its cases; return the items left over."""
    drafts = notice_rows.drafts_of(store, ruleset.brand_key, program.name, market, seller)
    for notice_id in drafts:
        if not items:
            break
        with store.transaction():
            # read inside the transaction: a person may have marked it submitted meanwhile
            row = notice_rows.fill(store, notice_id)
            if row is None or row[0] != "draft" or row[1] >= program.limit:
                continue
            taken = notice_rows.taken(store, program.name, [c["id"] for c in items])
            items = [c for c in items if c["id"] not in taken]
            chunk, items = items[:program.limit - row[1]], items[program.limit - row[1]:]
            if not chunk:
                continue
            _insert_items(store, ruleset, program, market, notice_id, row[2] + 1, chunk,
                          rules)
            case_log.transition(store, [c["id"] for c in chunk], "notice", by,
                                f"added to draft notice {notice_id} ({program.name}), which "
                                "had not been submitted", sweep_id)
        result.joined[notice_id] = result.joined.get(notice_id, 0) + len(chunk)
        result.items += len(chunk)
    return items


def _reason(case: dict[str, Any], rules: dict[str, Any], program: Program
            ) -> tuple[str, str, list[str]]:
    """The item's reason code (programs that want one), the explanation, the rule ids."""
    matched = [m["rule"] for m in json.loads(case["matches"] or "[]")
               if not m.get("suppressed_by")]
    titles = [rules[r].title for r in matched if r in rules]
    code = ""
    if program.reason_codes:
        code = next((rules[r].notice_reason for r in matched
                     if r in rules and rules[r].notice_reason in VERO_REASONS),
                    program.default_reason_code)
    reason = ("; ".join(titles) or f"staged {case['stage']} by the brand's rules") + "."
    return code, reason, matched


# statuses of a case that counts against its storefront: agreed on, in a notice, or gone
COUNTED = ("confirmed", "noticed", "submitted", "removed", "still_live", "relisted")


def draft_storefronts(store: Store, ruleset: Any, profiles: dict[str, MarketplaceProfile],
                      by: str, sweep_id: int | None = None) -> list[int]:
    """Draft a storefront notice for each seller, or seller network on one marketplace,
    with ``storefronts.min_cases`` counterfeit cases or more, where the marketplace's
    program takes store-level complaints (``STOREFRONT_PROGRAMS``). A unique index keeps
    one notice per storefront and program: drafting again adds only new storefronts."""
    threshold = ruleset.storefront_cases
    if not threshold:
        return []
    brand = ruleset.brand_key
    auto = [s.name for s in ruleset.stages if s.draft == "auto"]
    rows = notice_rows.storefront_cases(store, brand, list(COUNTED), auto)
    storefronts: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for market, lid, url, seller, network in rows:
        profile = profiles.get(market)
        if profile is None or profile.notice_program not in STOREFRONT_PROGRAMS:
            continue
        storefronts.setdefault((market, network or f"seller:{seller}"), []).append(
            (lid, url, seller or ""))
    out = []
    for (market, storefront), listings in sorted(storefronts.items()):
        if len(listings) < threshold:
            continue
        profile = profiles[market]
        program = PROGRAMS[profile.notice_program]
        sender, mark = identity(ruleset, program)  # the same completeness checks
        sellers = sorted({s for _l, _u, s in listings})
        notice_id = notice_rows.insert_storefront(store, {
            "brand": brand, "program": program.name, "marketplace": market,
            "storefront": storefront, "sellers": json.dumps(sellers),
            "listings": json.dumps([{"listing_id": lid, "url": url, "seller": s}
                                    for lid, url, s in listings], ensure_ascii=False),
            "cases": len(listings), "created_at": now(), "created_by": by,
            "sweep_id": sweep_id, "sender": json.dumps(sender, ensure_ascii=False),
            "rights": json.dumps({"trademark": mark}, ensure_ascii=False),
            "recipient": profile.notice_contact, "ruleset_version": ruleset.version})
        if notice_id is not None:
            out.append(notice_id)
    return out
