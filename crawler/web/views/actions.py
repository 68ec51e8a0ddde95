"""Decisions: confirm, dismiss and undo, for one case or a selection, through the same
library calls as `brandsweep review` (all or none, one ``case_events`` row per case)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from crawler.cases import lifecycle as cases
from crawler.exceptions import BrandsweepError
from crawler.store import cases as case_rows
from crawler.web.app import Workbench

DEFAULT_REASONS = {"confirm": "confirmed in the workbench"}


async def decide(request: Request) -> Response:
    bench: Workbench = request.app.state.bench
    action = request.path_params["action"]
    if action not in ("confirm", "dismiss", "undo"):
        return JSONResponse({"error": f"no action {action!r}"}, status_code=404)
    form = await request.form()
    try:
        ids = [int(i) for i in str(form.get("ids", "")).split(",") if i.strip()]
    except ValueError:
        return JSONResponse({"error": "ids must be case numbers, comma-separated"},
                            status_code=400)
    if not ids:
        return JSONResponse({"error": "no case chosen"}, status_code=400)
    reason = " ".join(str(form.get("reason", "")).split()) or DEFAULT_REASONS.get(action)
    store = bench.store()
    try:
        if action == "undo":
            done = cases.undo(store, ids, bench.user)
        elif action == "dismiss" and not reason:
            return JSONResponse({"error": "a dismissal needs a reason"}, status_code=400)
        else:
            done = cases.transition(store, ids, action, bench.user, reason)
    except BrandsweepError as exc:
        return JSONResponse({"error": str(exc)}, status_code=409)
    statuses = case_rows.statuses(store, done)
    return JSONResponse({"done": done, "statuses": {str(k): v for k, v in statuses.items()}})


routes = [Route("/actions/{action:str}", decide, methods=["POST"])]
