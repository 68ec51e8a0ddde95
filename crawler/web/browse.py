"""``brandsweep browse``: the store in Datasette, read-only, with our descriptions and
canned queries (``browse.json``) and a small plugin that shows evidence screenshots as
images, served by case id from the store's evidence folder only."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from datasette import hookimpl as _hookimpl
from datasette.app import Datasette
from datasette.plugins import pm
from datasette.utils.asgi import Response
from markupsafe import Markup

from crawler.cases import evidence as ev
from crawler.store import db as store_db
from crawler.store import evidence as evidence_rows

PLUGIN_NAME = "brandsweep-evidence"
hookimpl: Callable[[Callable[..., Any]], Callable[..., Any]] = _hookimpl  # pluggy's, untyped


def metadata(db: Path) -> dict[str, Any]:
    """Datasette metadata for the store at ``db``: ours, under its database name."""
    doc = json.loads(resources.files("crawler.web").joinpath("browse.json").read_text())
    return {"title": doc["title"], "description": doc["description"], "databases": {
        db.stem: {"tables": doc["tables"], "queries": doc["queries"]}}}


class EvidencePlugin:
    """Screenshots in the ``evidence`` table shown as images; the image route reads the
    file the store names for that case, and only inside the evidence folder."""

    def __init__(self, db: Path) -> None:
        self.__name__ = PLUGIN_NAME  # how Datasette lists a plugin
        self.db = db
        self.base = ev.folder(db).resolve()

    @hookimpl
    def render_cell(self, row: Any, value: Any, column: str, table: str | None) -> Any:
        if table != "evidence" or column != "screenshot" or not value:
            return None
        case_id = row["case_id"]
        if isinstance(case_id, dict):  # a foreign key Datasette expanded to its label
            case_id = case_id.get("value")
        url = f"/-/evidence/{int(case_id)}/screenshot"
        return Markup('<a href="{0}"><img src="{0}" alt="screenshot of case {1}" '
                      'width="240" loading="lazy"></a>').format(url, int(case_id))

    @hookimpl
    def register_routes(self) -> list[tuple[str, Any]]:
        return [(r"^/-/evidence/(?P<case_id>\d+)/screenshot$", self.screenshot)]

    async def screenshot(self, request: Any) -> Response:
        case_id = int(request.url_vars["case_id"])
        # the store is opened read-only: browsing never writes to it
        found = evidence_rows.screenshot_read_only(self.db, case_id)
        path = (self.base / found).resolve() if found else None
        if path is None or not path.is_relative_to(self.base) or not path.is_file():
            return Response.text("no screenshot for this case", status=404)
        return Response(path.read_bytes(), content_type="image/png",
                        headers={"x-content-type-options": "nosniff"})


def datasette(db: Path) -> Datasette:
    """A Datasette over the store at ``db``, immutable (read-only, no locking)."""
    db = db.resolve()
    if pm.get_plugin(PLUGIN_NAME) is not None:  # one store per process at a time
        pm.unregister(name=PLUGIN_NAME)
    pm.register(EvidencePlugin(db), name=PLUGIN_NAME)
    # immutable readers skip the WAL: fold what it holds into the file first
    store_db.checkpoint(db)
    return Datasette(immutables=[str(db)], metadata=metadata(db),
                     settings={"default_page_size": 50, "sql_time_limit_ms": 5000})
