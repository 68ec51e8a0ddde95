"""The queue: open cases, highest score first, filtered and optionally grouped by
seller, with counts per stage; its rows fragment is polled so new cases show up while a
sweep runs."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crawler.vocab import CASE_STATUSES
from crawler.web.app import Workbench, page

PAGE_SIZE = 100  # rows per page: the keyboard walks them, `next` pages on
FILTERS = ("brand", "marketplace", "stage", "status", "seller")


def filters(request: Request) -> dict[str, str | None]:
    """The queue's filters from the query string; status defaults to ``open`` and
    ``any`` means every status."""
    q = request.query_params
    out: dict[str, str | None] = {k: (q.get(k) or None) for k in FILTERS}
    status = q.get("status", "open")
    out["status"] = None if status in ("any", "") else status
    return out


def _data(request: Request) -> dict[str, Any]:
    bench: Workbench = request.app.state.bench
    store = bench.store()
    chosen = filters(request)
    try:
        offset = max(0, int(request.query_params.get("offset", "0")))
    except ValueError:
        offset = 0
    rows = store.case_queue(**chosen, limit=PAGE_SIZE + 1, offset=offset)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    grouped = request.query_params.get("group") == "seller"
    groups: list[tuple[str | None, list[dict[str, Any]]]] = [(None, rows)]
    if grouped:
        # a seller's cases together, sellers with the highest-scoring case first
        order: dict[tuple[str, str], int] = {}
        for i, r in enumerate(rows):
            order.setdefault((r["marketplace"], r["seller"] or ""), i)
        rows = sorted(rows, key=lambda r: order[(r["marketplace"], r["seller"] or "")])
        groups = [(f"{m} / {s or 'unknown seller'}", list(g)) for (m, s), g in
                  groupby(rows, key=lambda r: (r["marketplace"], r["seller"] or ""))]
    counts = store.case_counts(**chosen)
    return {"rows": rows, "groups": groups, "grouped": grouped, "more": more,
            "offset": offset, "page_size": PAGE_SIZE, "counts": counts,
            "total": sum(counts.values()), "filters": chosen,
            "status_param": request.query_params.get("status", "open"),
            "query": request.url.query}


async def queue_page(request: Request) -> Response:
    bench: Workbench = request.app.state.bench
    return page(request, "queue.html", facets=bench.facets(),
                statuses=CASE_STATUSES, **_data(request))


async def queue_rows(request: Request) -> Response:
    return page(request, "_queue_rows.html", **_data(request))


routes = [Route("/queue", queue_page), Route("/queue/rows", queue_rows)]
