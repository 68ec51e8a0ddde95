"""Notices: the drafts per program, one notice as it would be sent, its export in the
CLI's formats, and marking it submitted (``notices.mark_submitted``, as the CLI does)."""

from __future__ import annotations

from itertools import groupby

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from crawler.exceptions import BrandsweepError
from crawler.notices import export, mark_submitted, notices
from crawler.web.app import Workbench, page

MEDIA = {"text": "text/plain", "eml": "message/rfc822", "md": "text/markdown",
         "json": "application/json", "csv": "text/csv", "lumen": "application/json"}


def _templates(bench: Workbench, brand: str) -> str | None:
    """The brand's own notice templates folder, as the CLI finds it."""
    try:
        return str(bench.rule_sets.get(brand).templates or "") or None
    except (BrandsweepError, OSError):
        return None  # no rule set: our own templates still render the notice


async def notices_page(request: Request) -> Response:
    bench: Workbench = request.app.state.bench
    status = request.query_params.get("status", "draft")
    rows = notices(bench.store(), status=None if status == "any" else status)
    by_program = [(p, list(g)) for p, g in
                  groupby(sorted(rows, key=lambda n: (n["program"], n["id"])),
                          key=lambda n: n["program"])]
    return page(request, "notices.html", by_program=by_program, status=status,
                formats=export.FORMATS)


def _render(request: Request, fmt: str) -> tuple[dict[str, object], bytes]:
    bench: Workbench = request.app.state.bench
    data = export.notice(bench.store(), int(request.path_params["notice_id"]))
    body = export.render(data, fmt, _templates(bench, str(data["brand"])))
    return data, body.encode() if isinstance(body, str) else body


async def notice_page(request: Request) -> Response:
    fmt = request.query_params.get("format", "text")
    if fmt not in export.FORMATS:
        fmt = "text"
    try:
        data, body = _render(request, fmt)
    except BrandsweepError as exc:
        return page(request, "error.html", status_code=404, message=str(exc))
    return page(request, "notice.html", notice=data, body=body.decode("utf-8", "replace"),
                fmt=fmt, formats=export.FORMATS)


async def notice_export(request: Request) -> Response:
    fmt = request.query_params.get("format", "text")
    if fmt not in export.FORMATS:
        return Response(f"format must be one of {', '.join(export.FORMATS)}",
                        status_code=400, media_type="text/plain")
    try:
        data, body = _render(request, fmt)
    except BrandsweepError as exc:
        return Response(str(exc), status_code=404, media_type="text/plain")
    name = export.filename(data, fmt)
    return Response(body, media_type=MEDIA[fmt],
                    headers={"content-disposition": f'attachment; filename="{name}"'})


async def notice_submit(request: Request) -> Response:
    bench: Workbench = request.app.state.bench
    notice_id = int(request.path_params["notice_id"])
    try:
        moved = mark_submitted(bench.store(), [notice_id], bench.user)
    except BrandsweepError as exc:
        return JSONResponse({"error": str(exc)}, status_code=409)
    return JSONResponse({"notice": notice_id, "cases": moved})


routes = [
    Route("/notices", notices_page),
    Route("/notices/{notice_id:int}", notice_page),
    Route("/notices/{notice_id:int}/export", notice_export),
    Route("/notices/{notice_id:int}/submit", notice_submit, methods=["POST"]),
]
