"""``brandsweep report``: text, JSON, and the HTML page opened in real Chromium."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from crawler.cases import evidence
from crawler.notices import escaping
from crawler.reports import data, render
from crawler.store import Store
from fixtures.server import FixtureServer
from tests import hostile
from tests.test_notices_export import MARKETS, draft_hostile

SCRIPT = str(Path(sys.executable).with_name("brandsweep"))
EVIL = "<script>window.__pwned = 1</script><img src=x onerror='window.__pwned = 2'>"


def run(*args: str, url: str = "") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, BRANDSWEEP_FIXTURE_URL=url) if url else None
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("report") / "store.db"
    with FixtureServer(port=0, hard=False, seed=7) as server:
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


# -- the hostile corpus in the report ---------------------------------------------------------

REPORT_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "span", "p", "ul",
               "li", "b", "div", "figure", "figcaption", "svg", "line", "rect", "text",
               "polyline", "circle", "table", "tr", "th", "td", "img"}


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, int]:
    """Two sweeps of the hostile corpus: the second sees lower prices, opens the cases,
    drafts them, and one marketplace was blocked on a page with a hostile address."""
    db = tmp_path_factory.mktemp("hostile-report") / "store.db"
    store = Store(db)
    store.migrate()
    sweeps = []
    for price in ("30.00", "20.00"):
        sweep_id = store.start_sweep(kind="sweep", brand="acme", campaign=None,
                                     marketplaces=list(MARKETS), keywords=["acme"],
                                     max_pages=1)
        store.save(sweep_id, [x for m in MARKETS for x in hostile.listings(m, price)])
        sweeps.append(sweep_id)
    draft_hostile(db, sweeps[1])
    health = {m: {"status": "ok", "pages": {"http": 1, "browser": 0}, "listings": 34,
                  "new_listings": 34, "retries": 0, "render_mode": "http", "reason": None,
                  "price_warnings": 0} for m in MARKETS}
    health["bazaar"] |= {"status": "blocked", "price_warnings": 3, "reason":
                         f"{hostile.URLS[8]}: blocked page ({hostile.TITLES[0]!r} found)"}
    for sweep_id in sweeps:
        store.finish_sweep(sweep_id, "partial", {"marketplaces": health,
                                                 "elapsed_seconds": 1.5})
    return store, sweeps[1]


def test_the_report_shows_hostile_listings_as_text(hostile_report: tuple[Store, int]) -> None:
    store, sweep_id = hostile_report
    report = data.gather(store, sweep_id)
    assert report["new_cases"]["count"] == len(MARKETS) * len(hostile.TITLES)
    assert report["price_drops"] and report["new_drafts"]
    first = report["new_cases"]["items"][0]
    first["price"] = first["currency"] = first["seller"] = None  # as a listing can show
    out = render.render(report, "html", evidence.folder(store.path))
    assert hostile.hidden_characters(out) == []
    page = hostile.check_page(out, REPORT_TAGS)
    assert page.tags.count("style") == 1 and page.hrefs == []
    assert "Content-Security-Policy" in out and "script-src" not in out
    shown = "".join(page.text)
    assert "None" not in shown and "price not shown" in shown
    thumbs = report["new_cases"]["items"][:data.THUMBNAILS]
    for row in thumbs + report["price_drops"][:50]:
        assert escaping.shown(row["title"], escaping.TITLE_LIMIT) in shown
    for case in thumbs[1:]:
        assert escaping.shown(case["seller"], escaping.NAME_LIMIT) in shown
        assert escaping.money(case["price"], case["currency"]) in shown
    assert "price not shown, unknown seller" in shown
    assert escaping.shown(report["health"]["bazaar"]["reason"]) in shown


def test_the_report_text_and_json_with_hostile_listings(
        hostile_report: tuple[Store, int]) -> None:
    store, sweep_id = hostile_report
    report = data.gather(store, sweep_id)
    text = render.render(report, "text")
    assert hostile.hidden_characters(text) == [] and "None" not in text
    assert "price warnings 3" in text
    assert len(text.splitlines()) == 5 + len(MARKETS)  # the hostile reason forged no line
    out = render.render(report, "json")
    assert hostile.hidden_characters(out) == []
    assert json.loads(out) == json.loads(json.dumps(report))  # every value as gathered


@pytest.mark.browser
def test_the_hostile_report_runs_nothing_in_chromium(
        hostile_report: tuple[Store, int], page: Any, tmp_path: Path) -> None:
    store, sweep_id = hostile_report
    out = tmp_path / "report.html"
    old = os.umask(0)
    try:
        done = run("report", "--sweep", str(sweep_id), "--format", "html", "--out", str(out),
                   "--db", str(store.path))
    finally:
        os.umask(old)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o644  # not world-writable, whatever the umask
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(out.as_uri())
    assert page.eval_on_selector_all("script", "els => els.length") == 0
    assert page.eval_on_selector_all(".thumb", "els => els.length") == data.THUMBNAILS
    assert dialogs == []
