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
    rows = list(store.db.query(
        "select c.id, c.marketplace, c.listing_id, c.stage, c.status, l.url, l.title, "
        "l.price, l.currency, l.seller, e.matches, v.captured_at, v.screenshot, "
        "v.screenshot_sha256, v.html, v.html_sha256, v.image_sha256 from cases c "
        "join listings l on l.marketplace = c.marketplace and l.listing_id = c.listing_id "
        "left join evaluations e on e.brand = c.brand and e.marketplace = c.marketplace and "
        "e.listing_id = c.listing_id left join evidence v on v.case_id = c.id "
        "where c.brand = ? and (c.status = 'confirmed' or (c.status = 'open' and c.stage in "
        "(select value from json_each(?)))) order by c.id", [brand, json.dumps(auto)]))
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
    conn = store.db.conn
    at = now()
    with conn:
        # another drafting run may have taken some of these cases meanwhile
        taken = {r[0] for r in conn.execute(
            f"select case_id from notice_items where program = ? and case_id in "  # noqa: S608
            f"({', '.join('?' * len(chunk))})", [program.name, *(c["id"] for c in chunk)])}
        chunk = [c for c in chunk if c["id"] not in taken]
        if not chunk:
            return None
        cur = conn.execute(
            "insert into notices (brand, program, marketplace, seller, ip_type, status, "
            "created_at, created_by, sweep_id, part, parts, sender, rights, recipient, "
            "ruleset_version) values (?, ?, ?, ?, ?, 'draft', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [ruleset.brand_key, program.name, market, seller, program.ip_type, at, by,
             sweep_id, part[0], part[1], json.dumps(sender, ensure_ascii=False),
             json.dumps({"trademark": mark, "trademarks": registrations(ruleset),
                         "products": [p.name for p in ruleset.brand.products]},
                        ensure_ascii=False), recipient,
             ruleset.version])
        notice_id = int(cur.lastrowid or 0)
        _insert_items(conn, ruleset, program, market, notice_id, 1, chunk, rules)
        case_log.transition(store, [c["id"] for c in chunk], "notice", by,
                            f"in draft notice {notice_id} ({program.name})", sweep_id,
                            in_transaction=True)
    return notice_id


def _insert_items(conn: Any, ruleset: Any, program: Program, market: str, notice_id: int,
                  first: int, chunk: list[dict[str, Any]], rules: dict[str, Any]) -> None:
    """The notice's items, numbered from ``first``; inside the caller's transaction."""
    for position, c in enumerate(chunk, first):
        code, reason, matched = _reason(c, rules, program)
        evidence = {k: c[k] for k in ("captured_at", "screenshot", "screenshot_sha256",
                                      "html", "html_sha256", "image_sha256")}
        conn.execute(
            "insert into notice_items (notice_id, case_id, position, brand, program, "
            "marketplace, listing_id, url, title, price, currency, seller, reason_code, "
            "reason, rules, evidence) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [notice_id, c["id"], position, ruleset.brand_key, program.name, market,
             c["listing_id"], c["url"], c["title"], c["price"], c["currency"],
             c["seller"], code, reason, json.dumps(matched), json.dumps(evidence)])


def _join_drafts(store: Store, ruleset: Any, program: Program, market: str, seller: str,
                 items: list[dict[str, Any]], rules: dict[str, Any], by: str,
                 sweep_id: int | None, result: DraftResult) -> list[dict[str, Any]]:
    """Add ``items`` to the seller's unsent drafts of ``program`` that have room (oldest
    first), each addition an audit event of its cases; return the items left over."""
    conn = store.db.conn
    drafts = conn.execute(
        "select n.id from notices n where n.brand = ? and n.program = ? and "
        "n.marketplace = ? and coalesce(n.seller, '') = ? and n.status = 'draft' "
        "order by n.id", [ruleset.brand_key, program.name, market, seller]).fetchall()
    for (notice_id,) in drafts:
        if not items:
            break
        with conn:
            # read inside the transaction: a person may have marked it submitted meanwhile
            row = conn.execute("select status, (select count(*) from notice_items i where "
                               "i.notice_id = n.id), (select coalesce(max(position), 0) from "
                               "notice_items i where i.notice_id = n.id) from notices n "
                               "where n.id = ?", [notice_id]).fetchone()
            if row is None or row[0] != "draft" or row[1] >= program.limit:
                continue
            taken = {r[0] for r in conn.execute(
                f"select case_id from notice_items where program = ? and case_id in "  # noqa: S608
                f"({', '.join('?' * len(items))})", [program.name, *(c["id"] for c in items)])}
            items = [c for c in items if c["id"] not in taken]
            chunk, items = items[:program.limit - row[1]], items[program.limit - row[1]:]
            if not chunk:
                continue
            _insert_items(conn, ruleset, program, market, notice_id, row[2] + 1, chunk, rules)
            case_log.transition(store, [c["id"] for c in chunk], "notice", by,
                                f"added to draft notice {notice_id} ({program.name}), which "
                                "had not been submitted", sweep_id, in_transaction=True)
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
    rows = store.db.conn.execute(
        "select c.marketplace, c.listing_id, l.url, l.seller, n.network from cases c "
        "join listings l on l.marketplace = c.marketplace and l.listing_id = c.listing_id "
        "left join seller_networks n on n.brand = c.brand and n.marketplace = c.marketplace "
        "and n.seller = l.seller where c.brand = ? and (c.status in (select value from "
        "json_each(?)) or (c.status = 'open' and c.stage in (select value from "
        "json_each(?)))) order by c.marketplace, c.listing_id",
        [brand, json.dumps(COUNTED), json.dumps(auto)]).fetchall()
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
        with store.db.conn:
            cur = store.db.conn.execute(
                "insert or ignore into storefront_notices (brand, program, marketplace, "
                "storefront, sellers, listings, cases, status, created_at, created_by, "
                "sweep_id, sender, rights, recipient, ruleset_version) values "
                "(?, ?, ?, ?, ?, ?, ?, 'draft', ?, ?, ?, ?, ?, ?, ?)",
                [brand, program.name, market, storefront, json.dumps(sellers),
                 json.dumps([{"listing_id": lid, "url": url, "seller": s}
                             for lid, url, s in listings], ensure_ascii=False),
                 len(listings), now(), by, sweep_id, json.dumps(sender, ensure_ascii=False),
                 json.dumps({"trademark": mark}, ensure_ascii=False),
                 profile.notice_contact, ruleset.version])
            if cur.rowcount:
                out.append(int(cur.lastrowid or 0))
    return out
