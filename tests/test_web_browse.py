"""``brandsweep browse``: the store in Datasette, tested in-process with Datasette's own
client: packaged descriptions, every canned query returning rows on the demo store,
screenshots as images served by case id, and nothing writable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_web_store import demo_store

from crawler.store import Store
from crawler.web.browse import datasette, metadata
from tests import asyncrun


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return demo_store(tmp_path / "demo.db")


def get(store: Store, *paths: str) -> list[Any]:
    async def run() -> list[Any]:
        ds = datasette(store.path)
        await ds.invoke_startup()
        return [await ds.client.get(p) for p in paths]

    return asyncrun.run(run())


def test_metadata_is_packaged_and_names_the_store(store: Store) -> None:
    meta = metadata(store.path)
    tables = meta["databases"]["demo"]["tables"]
    assert {"listings", "cases", "case_events", "evidence", "notices"} <= set(tables)
    assert set(meta["databases"]["demo"]["queries"]) == {
        "suspects_by_seller", "takedown_cases_by_status", "cases_without_evidence",
        "relistings", "price_history"}


def test_canned_queries_return_rows(store: Store) -> None:
    listing = store.db.execute("select marketplace, listing_id from observations limit 1"
                               ).fetchone()
    names = ["suspects_by_seller", "takedown_cases_by_status", "cases_without_evidence",
             "relistings"]
    responses = get(store, *[f"/demo/{n}.json?_shape=array" for n in names],
                    f"/demo/price_history.json?_shape=array&marketplace={listing[0]}"
                    f"&listing_id={listing[1]}")
    for name, response in zip([*names, "price_history"], responses, strict=True):
        assert response.status_code == 200, name
        rows = json.loads(response.text)
        assert rows, name
    relisting = json.loads(responses[3].text)[0]
    assert relisting["removed_listing"] == "L0950" and relisting["listing_id"] == "L0951"
    assert {r["status"] for r in json.loads(responses[1].text)} >= {"open"}


def test_tables_are_described_and_read_only(store: Store) -> None:
    page, table, write, dbs = get(store, "/demo", "/demo/cases",
                                  "/demo.json?sql=update+cases+set+status+%3D+%27x%27",
                                  "/-/databases.json")
    assert page.status_code == 200
    assert "A staged listing on its way to a notice." in table.text
    assert write.status_code == 400
    assert json.loads(dbs.text)[0]["is_mutable"] is False
    assert store.db.execute("select count(*) from cases where status = 'x'"
                            ).fetchone()[0] == 0


def test_screenshots_show_as_images_served_by_case_id(store: Store) -> None:
    case_id = store.db.execute("select min(case_id) from evidence").fetchone()[0]
    table, image, missing = get(store, "/demo/evidence",
                                f"/-/evidence/{case_id}/screenshot",
                                "/-/evidence/999999/screenshot")
    assert f'<img src="/-/evidence/{case_id}/screenshot"' in table.text
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    assert image.headers["content-type"] == "image/png"
    assert missing.status_code == 404
