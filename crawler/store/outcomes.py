"""The store's side of takedown outcomes (``crawler.reports.outcomes``): every listing of
every submitted notice with what became of it. All of this module's SQL; it moves into
the store package as it is.
"""

from __future__ import annotations

from typing import Any

from crawler.store import Store


def submitted_items(store: Store, brand: str | None = None, since: str | None = None
                    ) -> list[dict[str, Any]]:
    """One row per listing of each submitted notice (of ``brand``, submitted at or after
    ``since``, an ISO date or time): its notice, program and marketplace, when it was
    submitted, its case's status now, when verify first found it gone after that, and
    when its seller was found back."""
    where = ["n.submitted_at is not null"]
    params: list[Any] = []
    if brand is not None:
        where.append("n.brand = ?")
        params.append(brand)
    if since is not None:
        where.append("n.submitted_at >= ?")
        params.append(since)
    # only constant SQL is formatted in; every value is bound
    sql = ("select n.id as notice_id, n.brand, n.program, n.marketplace, n.submitted_at, "  # noqa: S608
           "i.case_id, c.status, (select min(e.at) from case_events e where e.case_id = "
           "i.case_id and e.action = 'removed' and e.at >= n.submitted_at) as removed_at, "
           "(select min(e.at) from case_events e where e.case_id = i.case_id and "
           "e.action = 'relisted' and e.at >= n.submitted_at) as relisted_at "
           "from notices n join notice_items i on i.notice_id = n.id join cases c on "
           f"c.id = i.case_id where {' and '.join(where)} "
           "order by n.marketplace, n.program, n.id, i.case_id")
    return list(store.db.query(sql, params))
