"""One sweep's report, built the one way every command writes it (``report``, the
scheduled runner): gathered from the store, with the evidence and photo folders beside
it for the HTML page's thumbnails."""

from __future__ import annotations

from crawler.folders import evidence_dir, images_dir
from crawler.reports import data, render
from crawler.store import Store


def build(store: Store, sweep_id: int | None, fmt: str) -> str:
    """Sweep ``sweep_id``'s report (the latest finished sweep when None) in ``fmt``."""
    found = data.gather(store, sweep_id if sweep_id is not None else data.last_sweep(store))
    return render.render(found, fmt, evidence_dir(store.path), images_dir(store.path))
