"""Evidence: one row per case naming its captured screenshot and HTML (paths relative to
the evidence folder) with their SHA-256, written once the files are whole."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crawler.store.db import Connection, read_only_value


def missing(store: Connection, brand: str | None = None) -> list[tuple[Any, ...]]:
    """(case id, url, image_urls, title, price, currency, marketplace) of each case (of
    ``brand``) that has no evidence yet and may still need it, oldest first."""
    sql = ("select c.id, c.url, c.image_urls, c.title, c.price, c.currency, c.marketplace "
           "from case_listings c where not exists (select 1 from evidence v where "
           "v.case_id = c.id) and c.status in ('open', 'confirmed', 'noticed', 'submitted')")
    params: list[Any] = []
    if brand is not None:
        sql += " and c.brand = ?"
        params.append(brand)
    return store.conn.execute(sql + " order by c.id", params).fetchall()


def save(store: Connection, row: dict[str, Any]) -> dict[str, Any]:
    """Insert the case's evidence row unless it has one; return the row offered.
    ``row`` holds every column of ``evidence``."""
    with store.transaction() as conn:
        conn.execute(
            "insert into evidence (case_id, url, captured_at, http_status, screenshot, "
            "screenshot_sha256, html, html_sha256, image_url, image_sha256, title, price, "
            "currency) values (:case_id, :url, :captured_at, :http_status, :screenshot, "
            ":screenshot_sha256, :html, :html_sha256, :image_url, :image_sha256, :title, "
            ":price, :currency) on conflict (case_id) do nothing", row)
    return row


def of_case(store: Connection, case_id: int) -> dict[str, Any] | None:
    """The case's evidence row, or None."""
    rows = list(store.db.query("select * from evidence where case_id = ?", [case_id]))
    return dict(rows[0]) if rows else None


def recorded(store: Connection) -> list[dict[str, Any]]:
    """case_id, screenshot, screenshot_sha256, html and html_sha256 of every evidence
    row, by case."""
    return list(store.db.query("select case_id, screenshot, screenshot_sha256, html, "
                               "html_sha256 from evidence order by case_id"))


def file_of(store: Connection, case_id: int, kind: str) -> str | None:
    """The path (relative to the evidence folder) of the case's ``kind`` of evidence,
    ``screenshot`` or ``html`` (``KeyError`` for any other)."""
    column = {"screenshot": "screenshot", "html": "html"}[kind]  # never a caller's text
    row = store.conn.execute(f"select {column} from evidence where case_id = ?",  # noqa: S608
                             [case_id]).fetchone()
    return str(row[0]) if row and row[0] else None


def screenshot_read_only(path: Path, case_id: int) -> str | None:
    """The case's screenshot path, read from the store at ``path`` opened read-only."""
    found = read_only_value(path, "select screenshot from evidence where case_id = ?",
                            [case_id])
    return None if found is None else str(found)
