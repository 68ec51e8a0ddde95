"""One case: the evidence beside the listing's fields, its price against MSRP, why the
rule set staged it (matched words marked), the seller's other cases, the removed case it
relists and its audit history. Evidence files are served by case id from the store's
evidence folder only."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from crawler.cases import evidence as ev
from crawler.cases import lifecycle as cases
from crawler.exceptions import UnknownCase
from crawler.store import cases as case_rows
from crawler.store import evidence as evidence_rows
from crawler.web import highlight, pricing
from crawler.web.app import Workbench, page
from crawler.web.security import SNAPSHOT_CSP

OTHER_CASES = 50  # of the same seller, shown on a case page


def _case_id(request: Request) -> int:
    return int(request.path_params["case_id"])


async def case_page(request: Request) -> Response:
    bench: Workbench = request.app.state.bench
    store = bench.store()
    try:
        c = cases.case(store, _case_id(request))
    except UnknownCase as exc:
        return page(request, "error.html", status_code=404, message=str(exc))
    x = c["listing"]
    matches = c.get("evaluation", {}).get("matches", [])
    others = case_rows.same_seller(store, c["brand"], x["marketplace"], x["seller"],
                                   c["id"], OTHER_CASES) if x["seller"] else []
    relisted = None
    if c["relisted_from"]:
        relisted = case_rows.relisted_from(store, c["relisted_from"])
    relisted_as = case_rows.relisted_as(store, c["id"])
    return page(request, "case.html", case=c, listing=x, matches=matches,
                title=highlight.marked(x["title"], matches, "title"),
                description=highlight.marked(x["description"], matches, "description"),
                price=pricing.check(bench.rule_sets, c["brand"], x), others=others,
                relisted=relisted, relisted_as=relisted_as)


def _evidence_file(request: Request, kind: str) -> Path | None:
    """The case's evidence file, only if it lies inside the store's evidence folder."""
    bench: Workbench = request.app.state.bench
    found = evidence_rows.file_of(bench.store(), _case_id(request), kind)
    if found is None:
        return None
    base = ev.folder(bench.db).resolve()
    path: Path = (base / found).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        return None
    return path


async def screenshot(request: Request) -> Response:
    path = _evidence_file(request, "screenshot")
    if path is None:
        return PlainTextResponse("no screenshot for this case", status_code=404)
    return FileResponse(path, media_type="image/png")


async def snapshot(request: Request) -> Response:
    path = _evidence_file(request, "html")
    if path is None:
        return PlainTextResponse("no HTML snapshot for this case", status_code=404)
    # shown in a sandboxed frame; the header sandboxes it even when opened on its own
    return FileResponse(path, media_type="text/html",
                        headers={"content-security-policy": SNAPSHOT_CSP})


routes = [
    Route("/cases/{case_id:int}", case_page),
    Route("/cases/{case_id:int}/screenshot", screenshot),
    Route("/cases/{case_id:int}/snapshot", snapshot),
]
