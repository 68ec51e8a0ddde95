"""``brandsweep report``: text, JSON, and the HTML page opened in real Chromium."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fixtures.server import FixtureServer

SCRIPT = str(Path(sys.executable).with_name("brandsweep"))
EVIL = "<script>window.__pwned = 1</script><img src=x onerror='window.__pwned = 2'>"


def run(*args: str, url: str = "") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, BRANDSWEEP_FIXTURE_URL=url) if url else None
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("report") / "store.db"
    with FixtureServer(port=0, seed=7) as server:
        for _ in range(2):  # two sweeps: the history chart has two points per marketplace
            done = run("sweep", "--brand", "acme", "--marketplace", "bazaar", "--marketplace",
                       "shopfront", "--max-pages", "1", "--db", str(db), url=server.url)
            assert done.returncode == 0, done.stderr
    con = sqlite3.connect(db)
    with con:  # a counterfeiter's title, as the report must show it: as text
        con.execute("update listings set title = ? || title where (marketplace, listing_id) "
                    "= (select marketplace, listing_id from cases order by score desc, id "
                    "limit 1)", [EVIL])
    return db


def test_text_and_json(swept: Path) -> None:
    text = run("report", "--sweep", "1", "--db", str(swept))
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("sweep 1 (sweep acme): ok")
    assert "bazaar" in text.stdout and "shopfront" in text.stdout
    data = json.loads(run("report", "--last", "--format", "json", "--db", str(swept)).stdout)
    assert data["sweep"]["id"] == 2 and data["new_cases"]["count"] == 0
    assert data["history"]["sweeps"] == [1, 2]
    assert set(data["health"]) == {"bazaar", "shopfront"}
    missing = run("report", "--db", str(swept.with_name("nope.db")))
    assert missing.returncode == 2 and "no store at" in missing.stderr


@pytest.mark.browser
def test_html_renders_charts_thumbnails_and_escapes_listing_text(
        swept: Path, page: Any, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    done = run("report", "--sweep", "1", "--format", "html", "--out", str(out), "--db",
               str(swept))
    assert done.returncode == 0, done.stderr
    page.goto(out.as_uri())
    bars = page.eval_on_selector_all("#chart-new rect.bar",
                                     "els => els.map(e => +e.dataset.value)")
    assert len(bars) >= 2 and sum(bars) == int(page.inner_text("#new-cases")) > 0
    points = page.eval_on_selector_all("#chart-history circle",
                                       "els => els.map(e => +e.dataset.value)")
    assert len(points) == 2 and all(v > 0 for v in points)  # sweep 1: one per marketplace
    widths = page.eval_on_selector_all(".thumb img", "els => els.map(e => e.naturalWidth)")
    assert widths and all(w > 0 for w in widths)  # real screenshots, inlined
    assert page.evaluate("window.__pwned") is None
    assert EVIL in page.inner_text(".thumbs")
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
