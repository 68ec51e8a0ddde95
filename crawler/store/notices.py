"""Notices: drafts per program, marketplace and seller (``notices``), the cases each cites
(``notice_items``, a listing at most once per program), and storefront complaints
(``storefront_notices``, once per storefront and program)."""

from __future__ import annotations

import json
from typing import Any

from crawler.store.db import Connection, now, one_row, where_equal


def listed(store: Connection, brand: str | None = None, status: str | None = None,
           program: str | None = None) -> list[dict[str, Any]]:
    """Notices with their item counts, oldest first."""
    sql = ("select n.id, n.brand, n.program, n.marketplace, n.seller, n.status, "
           "n.created_at, n.submitted_at, n.part, n.parts, (select count(*) from "
           "notice_items i where i.notice_id = n.id) as items from notices n")
    where, params = where_equal("n", {"brand": brand, "status": status, "program": program})
    return list(store.db.query(sql + where + " order by n.id", params))


def get(store: Connection, notice_id: int) -> dict[str, Any] | None:
    """The notice's row, or None."""
    return one_row(store, "select * from notices where id = ?", [notice_id])


def items(store: Connection, notice_id: int) -> list[dict[str, Any]]:
    """The notice's items, in order."""
    return list(store.db.query("select * from notice_items where notice_id = ? order by "
                               "position", [notice_id]))


def status(store: Connection, notice_id: int) -> str | None:
    """The notice's status, None if there is no such notice."""
    row = store.conn.execute("select status from notices where id = ?",
                             [notice_id]).fetchone()
    return None if row is None else str(row[0])


def mark_submitted(store: Connection, notice_id: int, by: str, at: str) -> list[int]:
    """The notice is ``submitted``; return the ids of its cases, in order (the caller
    moves them)."""
    with store.transaction() as conn:
        conn.execute("update notices set status = 'submitted', submitted_at = ?, "
                     "submitted_by = ? where id = ?", [at, by, notice_id])
        return [r[0] for r in conn.execute(
            "select case_id from notice_items where notice_id = ? order by position",
            [notice_id])]


def of_case(store: Connection, case_id: int) -> list[dict[str, Any]]:
    """id, program, status and created_at of the notices citing the case."""
    return list(store.db.query(
        "select n.id, n.program, n.status, n.created_at from notice_items i join notices n "
        "on n.id = i.notice_id where i.case_id = ? order by n.id", [case_id]))


def ready(store: Connection, brand: str, auto: list[str]) -> list[dict[str, Any]]:
    """The brand's cases ready for a notice (confirmed, or open at a stage in ``auto``),
    with their listing, matches and evidence columns, by id."""
    return list(store.db.query(
        "select c.id, c.marketplace, c.listing_id, c.stage, c.status, c.url, c.title, "
        "c.price, c.currency, c.seller, e.matches, v.captured_at, v.screenshot, "
        "v.screenshot_sha256, v.html, v.html_sha256, v.image_sha256 from case_listings c "
        "left join evaluations e on e.brand = c.brand and e.marketplace = c.marketplace and "
        "e.listing_id = c.listing_id left join evidence v on v.case_id = c.id "
        "where c.brand = ? and (c.status = 'confirmed' or (c.status = 'open' and c.stage in "
        "(select value from json_each(?)))) order by c.id", [brand, json.dumps(auto)]))


def taken(store: Connection, program: str, case_ids: list[int]) -> set[int]:
    """Those of ``case_ids`` already in a notice of ``program``."""
    return {r[0] for r in store.conn.execute(
        "select case_id from notice_items where program = ? and case_id in "
        "(select value from json_each(?))", [program, json.dumps(case_ids)])}


def insert(store: Connection, row: dict[str, Any]) -> int:
    """A new ``draft`` notice from ``row`` (every column but id and status, the JSON
    ones encoded); return its id."""
    with store.transaction() as conn:
        cur = conn.execute(
            "insert into notices (brand, program, marketplace, seller, ip_type, status, "
            "created_at, created_by, sweep_id, part, parts, sender, rights, recipient, "
            "ruleset_version) values (:brand, :program, :marketplace, :seller, :ip_type, "
            "'draft', :created_at, :created_by, :sweep_id, :part, :parts, :sender, :rights, "
            ":recipient, :ruleset_version)", row)
    return int(cur.lastrowid or 0)


def insert_item(store: Connection, row: dict[str, Any]) -> dict[str, Any]:
    """One notice item (every column of ``notice_items``); return it."""
    with store.transaction() as conn:
        conn.execute(
            "insert into notice_items (notice_id, case_id, position, brand, program, "
            "marketplace, listing_id, url, title, price, currency, seller, reason_code, "
            "reason, rules, evidence) values (:notice_id, :case_id, :position, :brand, "
            ":program, :marketplace, :listing_id, :url, :title, :price, :currency, "
            ":seller, :reason_code, :reason, :rules, :evidence)", row)
    return row


def drafts_of(store: Connection, brand: str, program: str, marketplace: str, seller: str
              ) -> list[int]:
    """The ids of the seller's unsent drafts of ``program``, oldest first."""
    return [r[0] for r in store.conn.execute(
        "select n.id from notices n where n.brand = ? and n.program = ? and "
        "n.marketplace = ? and coalesce(n.seller, '') = ? and n.status = 'draft' "
        "order by n.id", [brand, program, marketplace, seller])]


def fill(store: Connection, notice_id: int) -> tuple[str, int, int] | None:
    """(status, item count, last position) of the notice, or None."""
    row = store.conn.execute(
        "select status, (select count(*) from notice_items i where i.notice_id = n.id), "
        "(select coalesce(max(position), 0) from notice_items i where i.notice_id = n.id) "
        "from notices n where n.id = ?", [notice_id]).fetchone()
    return None if row is None else (str(row[0]), int(row[1]), int(row[2]))


def storefront_cases(store: Connection, brand: str, counted: list[str], auto: list[str]
                     ) -> list[tuple[str, str, str, str | None, str | None]]:
    """(marketplace, listing_id, url, seller, network) of the brand's cases whose status
    is in ``counted``, or open at a stage in ``auto``."""
    return store.conn.execute(
        "select c.marketplace, c.listing_id, c.url, c.seller, n.network from case_listings c "
        "left join seller_networks n on n.brand = c.brand and n.marketplace = c.marketplace "
        "and n.seller = c.seller where c.brand = ? and (c.status in (select value from "
        "json_each(?)) or (c.status = 'open' and c.stage in (select value from "
        "json_each(?)))) order by c.marketplace, c.listing_id",
        [brand, json.dumps(counted), json.dumps(auto)]).fetchall()


def insert_storefront(store: Connection, row: dict[str, Any]) -> int | None:
    """A storefront ``draft`` from ``row`` (every column but id, status and created_at),
    unless that storefront has one for the program; return its id, None if it had."""
    with store.transaction() as conn:
        cur = conn.execute(
            "insert or ignore into storefront_notices (brand, program, marketplace, "
            "storefront, sellers, listings, cases, status, created_at, created_by, "
            "sweep_id, sender, rights, recipient, ruleset_version) values (:brand, "
            ":program, :marketplace, :storefront, :sellers, :listings, :cases, 'draft', "
            ":created_at, :created_by, :sweep_id, :sender, :rights, :recipient, "
            ":ruleset_version)", {"created_at": now(), **row})
    return int(cur.lastrowid or 0) if cur.rowcount else None


def drafted_by(store: Connection, sweep_id: int) -> list[dict[str, Any]]:
    """id, program, marketplace, seller and item count of the notices a sweep drafted."""
    return [dict(zip(("id", "program", "marketplace", "seller", "items"), r, strict=True))
            for r in store.conn.execute(
        "select n.id, n.program, n.marketplace, n.seller, (select count(*) from "
        "notice_items i where i.notice_id = n.id) from notices n where n.sweep_id = ? "
        "order by n.id", [sweep_id])]
