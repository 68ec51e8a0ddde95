"""Notices: drafted per marketplace program and seller from cases, exported in the
format each program takes, and marked submitted by a person."""

from __future__ import annotations

from typing import Any

from crawler.cases import lifecycle as case_log
from crawler.exceptions import CaseStateError, UnknownNotice
from crawler.store import Store, now


def notices(store: Store, brand: str | None = None, status: str | None = None,
            program: str | None = None) -> list[dict[str, Any]]:
    """Notices with their item counts, oldest first."""
    sql = ("select n.id, n.brand, n.program, n.marketplace, n.seller, n.status, "
           "n.created_at, n.submitted_at, n.part, n.parts, (select count(*) from "
           "notice_items i where i.notice_id = n.id) as items from notices n where 1 = 1")
    params: list[Any] = []
    for column, value in (("brand", brand), ("status", status), ("program", program)):
        if value is not None:
            sql += f" and n.{column} = ?"
            params.append(value)
    return list(store.db.query(sql + " order by n.id", params))


def mark_submitted(store: Store, notice_ids: list[int], by: str) -> int:
    """A person sent these drafts: the notices and their cases become ``submitted``.
    All or nothing; return how many cases moved."""
    moved = 0
    at = now()
    conn = store.db.conn
    with conn:
        for notice_id in notice_ids:
            row = conn.execute("select status from notices where id = ?",
                               [notice_id]).fetchone()
            if row is None:
                raise UnknownNotice(f"no notice {notice_id} in {store.path}; `brandsweep "
                                    "notices list` shows the drafts")
            if row[0] != "draft":
                raise CaseStateError(f"notice {notice_id} is already {row[0]}; nothing was "
                                     "changed")
            conn.execute("update notices set status = 'submitted', submitted_at = ?, "
                         "submitted_by = ? where id = ?", [at, by, notice_id])
            ids = [r[0] for r in conn.execute(
                "select case_id from notice_items where notice_id = ? order by position",
                [notice_id])]
            case_log.transition(store, ids, "submit", by, f"notice {notice_id} submitted",
                                in_transaction=True)
            moved += len(ids)
    return moved
