"""Every stored listing, staged or not, with its verdict: full-text search and filters."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crawler.web.app import Workbench, page

PAGE_SIZE = 200


async def listings_page(request: Request) -> Response:
    bench: Workbench = request.app.state.bench
    q = request.query_params
    try:
        offset = max(0, int(q.get("offset", "0")))
    except ValueError:
        offset = 0
    chosen = {"brand": q.get("brand") or None, "marketplace": q.get("marketplace") or None,
              "stage": q.get("stage") or None}
    store = bench.store()
    rows = store.listings_with_verdicts(
        **chosen, unstaged=q.get("unstaged") == "1", search=q.get("q") or None,
        limit=PAGE_SIZE + 1, offset=offset)
    return page(request, "listings.html", rows=rows[:PAGE_SIZE],
                more=len(rows) > PAGE_SIZE, offset=offset, page_size=PAGE_SIZE,
                q=q.get("q", ""), unstaged=q.get("unstaged") == "1", filters=chosen,
                facets=bench.facets())


routes = [Route("/listings", listings_page)]
