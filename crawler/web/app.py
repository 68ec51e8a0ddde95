"""The workbench's Starlette app: routes, templates and the state every view shares.

Views are thin: they read through ``crawler.store`` and ``crawler.cases.lifecycle``, and change
things only through the library calls the CLI makes (``cases.transition``,
``cases.undo``, ``notices.mark_submitted``), so the audit trail is the same whichever
one a person used.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from crawler.store import Store
from crawler.store.db import READING_CACHE_MIB
from crawler.web.pricing import RuleSets
from crawler.web.security import Guard

WEB_DIR = Path(str(resources.files("crawler.web")))
FACETS_TTL = 30.0
# the reasons an analyst most often dismisses for, on number keys 1-9
QUICK_REASONS = (
    "authorised seller",
    "genuine product",
    "not our brand",
    "compatible accessory, not a copy",
    "used genuine item",
    "price plausible for genuine",
    "duplicate of another case",
    "listing already gone",
    "insufficient evidence",
)


@dataclass
class Workbench:
    """What the views share: the store (one connection per thread), who acts, the CSRF
    token and the brands' rule sets."""

    db: Path
    user: str
    csrf: str
    rule_sets: RuleSets
    _local: threading.local = field(default_factory=threading.local)
    _facets: tuple[float, dict[str, list[str]]] | None = None

    def facets(self) -> dict[str, list[str]]:
        """The filter menus' values, worked out at most every ``FACETS_TTL`` seconds:
        three scans of the cases that need not run on every page."""
        at = time.monotonic()
        if self._facets is None or at - self._facets[0] > FACETS_TTL:
            self._facets = (at, self.store().case_facets())
        return self._facets[1]

    def store(self) -> Store:
        store: Store | None = getattr(self._local, "store", None)
        if store is None:  # sqlite3 connections stay in the thread that opened them
            store = self._local.store = Store(self.db, cache_mib=READING_CACHE_MIB)
        return store


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(WEB_DIR / "templates")),
                             autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    return env


TEMPLATES = _environment()


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    """Render template ``name`` with the shared context (autoescaped)."""
    bench: Workbench = request.app.state.bench
    html = TEMPLATES.get_template(name).render(
        request=request, csrf=bench.csrf, user=bench.user, quick_reasons=QUICK_REASONS,
        **context)
    return HTMLResponse(html, status_code=status_code)


def create_app(db: Path, user: str, token: str | None = None, local_only: bool = True,
               rules_path: Path | None = None) -> Starlette:
    """The workbench over the store at ``db`` (migrated on start); every action is
    recorded as done by ``user``. ``token``: every request must carry it."""
    from crawler.web.views import actions, case, listings, notices, queue

    Store(db).migrate()
    bench = Workbench(db=db, user=user, csrf=secrets.token_urlsafe(32),
                      rule_sets=RuleSets(rules_path))

    async def home(request: Request) -> Response:
        return RedirectResponse("/queue", status_code=303)

    routes = [
        Route("/", home),
        *queue.routes, *case.routes, *actions.routes, *notices.routes, *listings.routes,
        Mount("/static", StaticFiles(directory=str(WEB_DIR / "static")), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[
        Middleware(Guard, token=token, csrf=bench.csrf, local_only=local_only)])
    app.state.bench = bench
    return app
