"""Notices: drafted per marketplace program and seller from cases, exported in the
format each program takes, and marked submitted by a person."""

from __future__ import annotations

from typing import Any

from crawler.cases import lifecycle as case_log
from crawler.exceptions import CaseStateError, UnknownNotice, known
from crawler.store import Store, now
from crawler.store import notices as notice_rows


def notices(store: Store, brand: str | None = None, status: str | None = None,
            program: str | None = None) -> list[dict[str, Any]]:
    """Notices with their item counts, oldest first."""
    return notice_rows.listed(store, brand, status, program)


def mark_submitted(store: Store, notice_ids: list[int], by: str) -> int:
    """A person sent these drafts: the notices and their cases become ``submitted``.
    All or nothing; return how many cases moved."""
    moved = 0
    at = now()
    with store.transaction():
        for notice_id in notice_ids:
            status = known(notice_rows.status(store, notice_id), UnknownNotice, "notice",
                           notice_id, store.path, "`brandsweep notices list` shows the drafts")
            if status != "draft":
                raise CaseStateError(f"notice {notice_id} is already {status}; nothing was "
                                     "changed")
            ids = notice_rows.mark_submitted(store, notice_id, by, at)
            case_log.transition(store, ids, "submit", by, f"notice {notice_id} submitted")
            moved += len(ids)
    return moved
