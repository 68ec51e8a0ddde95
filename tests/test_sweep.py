"""``brandsweep sweep`` and ``crawl`` end to end: the real script, real Scrapy, real
Chromium, a real SQLite file, against the fixture marketplaces on a free loopback port."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crawler.rules.files import keywords
from fixtures.catalogue import Catalogue
from fixtures.faults import FaultSettings, parse_faults
from fixtures.server import FixtureServer

MARKETS = ("bazaar", "shopfront", "megamart", "tradehub")
SCRIPT = str(Path(sys.executable).with_name("brandsweep"))


def brandsweep(server: FixtureServer, *args: str, timeout: float = 240
               ) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, BRANDSWEEP_FIXTURE_URL=server.url)
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def expected(catalogue: Catalogue, base: str, brand: str,
             markets: tuple[str, ...] = MARKETS) -> dict[tuple[str, str], dict[str, Any]]:
    words = set(keywords(brand))
    out = {}
    for market in markets:
        for r in catalogue.truth(base, market):
            found = sorted(k for k in r["keywords"] if k in words)  # type: ignore[attr-defined]
            if found:
                out[(market, str(r["listing_id"]))] = dict(r) | {"keywords": found}
    return out


def stored(db: Path) -> dict[tuple[str, str], dict[str, Any]]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    rows = {(r["marketplace"], r["listing_id"]): dict(r)
            for r in con.execute("select * from listings")}
    con.close()
    return rows


def assert_store_matches_truth(db: Path, truth: dict[tuple[str, str], dict[str, Any]]
                               ) -> None:
    rows = stored(db)
    assert rows.keys() - truth.keys() == set(), "extra listings"
    assert truth.keys() - rows.keys() == set(), "missing listings"
    for key, t in truth.items():
        r = rows[key]
        for name in ("url", "title", "price", "price_high", "currency", "seller"):
            assert r[name] == t[name], (key, name, r[name], t[name])
        assert json.loads(r["keywords"]) == t["keywords"], key


@pytest.fixture(scope="module")
def plain() -> Iterator[FixtureServer]:
    with FixtureServer(port=0, hard=False, seed=7) as server:
        yield server


@pytest.mark.browser
def test_sweep_stores_exactly_the_truth_and_a_rerun_adds_nothing(
        plain: FixtureServer, catalogue: Catalogue, tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    # evidence and notices are tested in test_notices_lifecycle and the demo test
    first = brandsweep(plain, "sweep", "--brand", "acme", "--db", str(db), "--json",
                       "--no-evidence")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    truth = expected(catalogue, plain.url, "acme")
    assert_store_matches_truth(db, truth)
    per = summary["marketplaces"]
    assert {m: per[m]["status"] for m in MARKETS} == dict.fromkeys(MARKETS, "ok")
    # auto mode: the browser only where HTTP shows no listings
    assert per["shopfront"]["render_mode"] == "browser" and per["shopfront"]["switched_to_browser"]
    assert per["bazaar"]["render_mode"] == "http" and per["bazaar"]["pages"]["browser"] == 0
    assert sum(per[m]["new_listings"] for m in MARKETS) == len(truth)
    # every listing was judged as it was stored, and the summary counts the stages
    counterfeits = sum(1 for t in truth.values() if t["label"] == "counterfeit")
    assert sum(summary["staged"].values()) == counterfeits
    verdicts = sqlite3.connect(db).execute(
        "select count(*), count(distinct version) from evaluations where brand = 'acme'"
    ).fetchone()
    assert verdicts == (len(truth), 1)

    again = brandsweep(plain, "sweep", "--brand", "acme", "--db", str(db), "--json",
                       "--no-evidence")
    assert again.returncode == 0, again.stderr
    assert sum(m["new_listings"] for m in json.loads(again.stdout)["marketplaces"].values()) == 0
    assert_store_matches_truth(db, truth)
    con = sqlite3.connect(db)
    assert con.execute("select count(*) from observations").fetchone()[0] == 2 * len(truth)
    assert con.execute("select count(distinct first_sweep) from listings").fetchone()[0] == 1
    assert [r[0] for r in con.execute("select status from sweeps order by id")] == ["ok", "ok"]
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_max_pages_and_text_summary(plain: FixtureServer, catalogue: Catalogue,
                                    tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    done = brandsweep(plain, "sweep", "--brand", "velora", "--no-evidence", "--marketplace",
                      "tradehub", "--db", str(db), "--max-pages", "2")
    assert done.returncode == 0, done.stderr
    # the first two pages (twenty listings each) of every keyword
    want = {x.listing_id for k in keywords("velora")
            for x in catalogue.search("tradehub", k)[:40]}
    assert {k[1] for k in stored(db)} == want
    lines = done.stdout.splitlines()
    assert lines[0].startswith("sweep 1: ok in ")
    assert lines[2].split()[:5] == ["tradehub", "ok", str(len(want)), str(len(want)), "6"]


@pytest.mark.browser
def test_retries_recover_everything_under_ratelimit_flaky_slow(
        catalogue: Catalogue, tmp_path: Path) -> None:
    faults = parse_faults("ratelimit,flaky,slow")
    with FixtureServer(port=0, hard=False, seed=7, faults=faults,
                       settings=FaultSettings(slow_seconds=4)) as server:
        db = tmp_path / "faulty.db"
        done = brandsweep(server, "sweep", "--brand", "velora", "--no-evidence", "--db",
                          str(db), "--json", "--timeout", "2")
        assert done.returncode == 0, done.stderr
        per = json.loads(done.stdout)["marketplaces"]
        assert sum(m["retries"] for m in per.values()) > 20
        assert_store_matches_truth(db, expected(catalogue, server.url, "velora"))


@pytest.mark.browser
def test_blocked_and_layout_changes_are_reported_and_exit_3(
        catalogue: Catalogue, tmp_path: Path) -> None:
    faults = parse_faults("captcha:bazaar,layout:megamart,layout:shopfront")
    with FixtureServer(port=0, hard=False, seed=7, faults=faults,
                       settings=FaultSettings(captcha_burst=8)) as server:
        db = tmp_path / "partial.db"
        done = brandsweep(server, "sweep", "--brand", "velora", "--no-evidence", "--db",
                          str(db), "--json", "--timeout", "5")
        assert done.returncode == 3, done.stderr
        summary = json.loads(done.stdout)
        per = summary["marketplaces"]
        assert summary["status"] == "partial"
        assert per["bazaar"]["status"] == "blocked" and "CAPTCHA" in per["bazaar"]["reason"]
        assert per["megamart"]["status"] == "extraction_failed"
        assert per["shopfront"]["status"] == "extraction_failed"
        assert per["tradehub"]["status"] == "ok"
        # the healthy marketplace is complete, the blocked one kept what it saw
        rows = stored(db)
        truth = expected(catalogue, server.url, "velora", ("tradehub",))
        assert {k for k in rows if k[0] == "tradehub"} == truth.keys()
        assert 0 < len([k for k in rows if k[0] == "bazaar"]) < 180
        con = sqlite3.connect(db)
        status, stats = con.execute("select status, stats from sweeps").fetchone()
        assert status == "partial" and json.loads(stats)["marketplaces"]["bazaar"]["reason"]

        text = brandsweep(server, "sweep", "--brand", "velora", "--no-evidence", "--db", str(db),
                          "--marketplace", "megamart", "--timeout", "5")
        assert text.returncode == 3
        assert "EXTRACTION FAILED" in text.stdout and "marketplaces check megamart" in text.stdout


def test_crawl_tags_a_campaign(plain: FixtureServer, catalogue: Catalogue,
                               tmp_path: Path) -> None:
    db = tmp_path / "campaign.db"
    done = brandsweep(plain, "crawl", "--campaign", "launch-x2", "--keyword", "pulse x2",
                      "--keyword", "trailpack", "--marketplace", "bazaar", "--marketplace",
                      "tradehub", "--db", str(db), "--json")
    assert done.returncode == 0, done.stderr
    rows = stored(db)
    want = {(m, x.listing_id) for m in ("bazaar", "tradehub")
            for k in ("pulse x2", "trailpack") for x in catalogue.search(m, k)}
    assert set(rows) == want and want
    assert all(json.loads(r["campaigns"]) == ["launch-x2"] for r in rows.values())
    sweep = sqlite3.connect(db).execute("select kind, campaign from sweeps").fetchone()
    assert sweep == ("crawl", "launch-x2")


@pytest.mark.browser
def test_browser_pages_are_reused_and_every_scrolled_listing_is_kept(
        plain: FixtureServer, catalogue: Catalogue, tmp_path: Path) -> None:
    db = tmp_path / "scroll.db"
    # the marketplace folds case: each spelling is the same full search at its own URL
    spellings = ["acme", "Acme", "aCme", "ACme", "acMe", "AcMe", "aCMe", "ACMe"]
    done = brandsweep(plain, "crawl", "--campaign", "scroll", "--marketplace", "shopfront",
                      "--db", str(db), "--json",
                      *[a for k in spellings for a in ("--keyword", k)])
    assert done.returncode == 0, done.stderr
    health = json.loads(done.stdout)["marketplaces"]["shopfront"]
    # four page slots, eight searches: later searches navigate a finished page
    assert health["pages"]["browser"] == len(spellings) and health["browser_pages_reused"] > 0
    assert set(stored(db)) == {("shopfront", x.listing_id)
                               for x in catalogue.search("shopfront", "acme")}


@pytest.mark.parametrize(("args", "message"), [
    (["sweep", "--brand", "nosuch"], "no rule set for brand 'nosuch'"),
    (["sweep", "--brand", "acme", "--marketplace", "ebay"], "unknown marketplace 'ebay'"),
    (["crawl", "--campaign", "c", "--keyword", "k", "--marketplace", "bazar"],
     "did you mean 'bazaar'"),
])
def test_bad_input_is_one_line_and_exit_2(plain: FixtureServer, tmp_path: Path,
                                          args: list[str], message: str) -> None:
    done = brandsweep(plain, *args, "--db", str(tmp_path / "x.db"))
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_json_api_profile_from_a_user_folder(plain: FixtureServer, catalogue: Catalogue,
                                             tmp_path: Path) -> None:
    """A marketplace with a public JSON API needs a profile, not a browser."""
    db = tmp_path / "api.db"
    folder = str(Path(__file__).parent / "profiles")
    done = brandsweep(plain, "crawl", "--campaign", "api", "--keyword", "velora",
                      "--marketplace", "shopfront-api", "--marketplaces", folder,
                      "--db", str(db), "--json")
    assert done.returncode == 0, done.stderr
    rows = stored(db)
    truth = {r["listing_id"]: r for r in catalogue.truth(plain.url, "shopfront", "velora")}
    assert {k[1] for k in rows} == truth.keys()
    for (_, lid), r in rows.items():
        assert (r["title"], r["price"], r["currency"], r["seller"]) == (
            truth[lid]["title"], truth[lid]["price"], "EUR", truth[lid]["seller"])
    per = json.loads(done.stdout)["marketplaces"]["shopfront-api"]
    assert per["pages"] == {"http": 9, "browser": 0}


@pytest.mark.browser
def test_kill_9_mid_sweep_leaves_a_consistent_store_and_the_next_sweep_completes_it(
        catalogue: Catalogue, tmp_path: Path) -> None:
    import signal
    import time

    db = tmp_path / "killed.db"
    faults = parse_faults("slow")  # stretch the sweep so the kill lands in the middle
    with FixtureServer(port=0, hard=False, seed=7, faults=faults,
                       settings=FaultSettings(slow_seconds=1.0)) as server:
        env = dict(os.environ, BRANDSWEEP_FIXTURE_URL=server.url)
        proc = subprocess.Popen([SCRIPT, "sweep", "--brand", "acme", "--no-evidence", "--db",
                                 str(db)],
                                env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until some listings are committed
            time.sleep(0.5)
            if db.exists():
                try:
                    con = sqlite3.connect(db)
                    if con.execute("select count(*) from listings").fetchone()[0] > 100:
                        break
                except sqlite3.OperationalError:
                    pass  # the schema is still being created
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        con = sqlite3.connect(db)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        partial = con.execute("select count(*) from listings").fetchone()[0]
        assert 0 < partial < 720
        assert con.execute("select status from sweeps").fetchone()[0] == "running"
        con.close()

        done = brandsweep(server, "sweep", "--brand", "acme", "--no-evidence", "--db",
                          str(db), "--json")
        assert done.returncode == 0, done.stderr
        con = sqlite3.connect(db)
        statuses = [r[0] for r in con.execute("select status from sweeps order by id")]
        assert statuses == ["interrupted", "ok"]
        assert_store_matches_truth(db, expected(catalogue, server.url, "acme"))
        dupes = con.execute("select count(*) from (select marketplace, listing_id from "
                            "listings group by 1, 2 having count(*) > 1)").fetchone()[0]
        assert dupes == 0
