"""Sweep monitors (``crawler.sweep.monitor``): a marketplace judged against its own last sweeps.
End to end with the real script, real Scrapy and the fixture marketplaces, whose ``drift``
fault quietly renames one field's markup."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import lxml.html
import pytest

from crawler.exceptions import ConfigError
from crawler.profiles.loading import BUILTIN_DIR, load_profile, load_profiles
from crawler.profiles.model import MarketplaceProfile
from crawler.sweep import monitor
from fixtures.faults import DRIFT, parse_faults
from fixtures.server import FixtureApp, FixtureServer

SCRIPT = str(Path(sys.executable).with_name("brandsweep"))


def sweep(server: FixtureServer, db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, BRANDSWEEP_FIXTURE_URL=server.url)
    return subprocess.run([SCRIPT, "sweep", "--brand", "acme", "--no-evidence", "--max-pages",
                           "2", "--marketplace", "bazaar", "--marketplace", "tradehub",
                           "--db", str(db), *args], capture_output=True, text=True, env=env,
                          timeout=300)


def test_drift_makes_the_marketplace_degraded_and_the_next_normal_sweep_is_ok(
        tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    with FixtureServer(port=0, seed=7) as server:
        first = sweep(server, db, "--json")
        assert first.returncode == 0, first.stderr
        per = json.loads(first.stdout)["marketplaces"]
        # a first sweep has no history: never degraded, whatever it found
        assert {m["status"] for m in per.values()} == {"ok"}
        assert not any("degraded" in m for m in per.values())
        assert per["bazaar"]["coverage"]["seller"] == 1.0

        server.app.set_faults(parse_faults("drift:bazaar"))
        drifted = sweep(server, db)
        assert drifted.returncode == 3, drifted.stderr
        assert "DEGRADED" in drifted.stdout
        assert "bazaar: seller on 0% of listings, was 100%" in drifted.stdout
        con = sqlite3.connect(db)
        status, stats = con.execute("select status, stats from sweeps order by id desc"
                                    ).fetchone()
        con.close()
        per = json.loads(stats)["marketplaces"]
        assert status == "partial"
        assert per["bazaar"]["status"] == monitor.DEGRADED
        assert per["bazaar"]["degraded"] == [{
            "what": "coverage", "field": "seller", "now": 0.0, "was": 1.0, "sweeps": 1,
            "text": "seller on 0% of listings, was 100%"}]
        assert per["bazaar"]["listings"] > 100  # cards and titles still parse
        assert per["tradehub"]["status"] == "ok"  # the drift was aimed at bazaar only

        server.app.set_faults({})
        again = sweep(server, db, "--json")
        assert again.returncode == 0, again.stderr
        per = json.loads(again.stdout)["marketplaces"]
        # the degraded sweep is no baseline: compared with the first one, all is well
        assert {m["status"] for m in per.values()} == {"ok"}
        con = sqlite3.connect(db)
        kept = con.execute("select sweep_id, marketplace, status, listings, json_extract("
                           "coverage, '$.seller') from marketplace_health order by 1, 2"
                           ).fetchall()
        con.close()
        assert [(s, m, st) for s, m, st, _n, _c in kept] == [
            (1, "bazaar", "ok"), (1, "tradehub", "ok"), (2, "bazaar", "degraded"),
            (2, "tradehub", "ok"), (3, "bazaar", "ok"), (3, "tradehub", "ok")]
        assert [c for s, m, _st, _n, c in kept if m == "bazaar"] == [
            kept[0][3], 0, kept[0][3]]

        # the report shows each field's coverage over the sweeps, the fall in red
        html = report(server, db, "--sweep", "3", "--format", "html")
        page = lxml.html.fromstring(html)
        row = page.get_element_by_id("coverage-bazaar").xpath(".//tr[@data-field='seller']")[0]
        cells = row.xpath("./td")[1:]
        assert [c.text for c in cells] == ["100%", "0%", "100%"]
        assert [c.get("class") for c in cells] == ["", "bad", ""]
        assert page.get_element_by_id("coverage-tradehub").xpath(
            ".//td[@class='bad']") == []
        text = report(server, db, "--sweep", "2")
        assert "bazaar       degraded" in text and "seller on 0% of listings" in text
        assert "field coverage, sweeps 1, 2:" in text


def report(server: FixtureServer, db: Path, *args: str) -> str:
    env = dict(os.environ, BRANDSWEEP_FIXTURE_URL=server.url)
    done = subprocess.run([SCRIPT, "report", "--db", str(db), *args], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_drift_fault_renames_one_field_per_marketplace(catalogue: Any) -> None:
    app = FixtureApp(7, parse_faults("drift"))
    plain = FixtureApp(7)
    targets = {"bazaar": "/bazaar/sch?q=acme", "tradehub": "/tradehub/search?keywords=acme",
               "megamart": "/megamart/s?k=acme", "shopfront": "/shopfront/static/app.js"}
    for market, (_field, old, new) in DRIFT.items():
        before = plain.route(targets[market]).body.decode("latin-1")
        after = app.route(targets[market]).body.decode("latin-1")
        assert old in before and new not in before, market
        assert old not in after and new in after, market
        assert after.replace(new, old) == before, market  # nothing else changed
    one = FixtureApp(7, parse_faults("drift:megamart"))
    assert one.route(targets["bazaar"]).body == plain.route(targets["bazaar"]).body


def _profile(**monitor_settings: Any) -> MarketplaceProfile:
    base = load_profiles()["bazaar"]
    return base.model_copy(update={"monitor": base.monitor.model_copy(
        update=monitor_settings)})


def _figures(listings: int, pages: int, seller: int, plan: str = "p",
             sweep_id: int = 1) -> dict[str, Any]:
    cov = {"price": listings, "seller": seller, "seller_location": listings,
           "image_urls": listings, "condition": listings}
    return {"sweep_id": sweep_id, "listings": listings, "pages": pages, "coverage": cov,
            "plan": plan}


def test_judging_against_the_median_of_earlier_sweeps() -> None:
    profile = _profile()
    now = _figures(100, 5, 0)
    assert monitor.judge(now, [], profile, "p") == []  # no history: never degraded
    drops = monitor.judge(now, [_figures(100, 5, 98)], profile, "p")
    assert [d.describe() for d in drops] == ["seller on 0% of listings, was 98%"]
    # the median, not the last sweep: one odd sweep before does not decide
    history = [_figures(100, 5, 0), _figures(100, 5, 90), _figures(100, 5, 95)]
    assert [d.field for d in monitor.judge(now, history, profile, "p")] == ["seller"]
    assert monitor.judge(_figures(100, 5, 60), history, profile, "p") == []
    # listings and pages: compared only with sweeps of the same keywords and pages
    fewer = _figures(30, 2, 30)
    got = monitor.judge(fewer, [_figures(100, 5, 100)], profile, "p")
    assert [d.describe() for d in got] == ["30 listings found, was 100",
                                           "2 result pages, was 5"]
    assert monitor.judge(fewer, [_figures(100, 5, 100, plan="q")], profile, "p") == []
    # too few listings to judge coverage or their number by
    assert monitor.judge(_figures(5, 5, 0), [_figures(5, 5, 5)], profile, "p") == []
    assert monitor.judge(_figures(2, 5, 2), [_figures(8, 5, 8)], profile, "p") == []


def test_profile_monitor_settings_override_the_defaults() -> None:
    now = _figures(100, 5, 0)
    history = [_figures(100, 5, 100)]
    assert monitor.judge(now, history, _profile(min_sweeps=2, history=5), "p") == []
    assert monitor.judge(now, history, _profile(ignore=["seller"]), "p") == []
    assert monitor.judge(now, history, _profile(coverage_drop=None), "p") == []
    assert monitor.judge(_figures(100, 5, 60), history, _profile(coverage_drop=0.3),
                         "p")[0].field == "seller"
    assert monitor.judge(_figures(100, 5, 60), history, _profile(), "p") == []


def test_a_bad_monitor_block_is_a_located_config_error(tmp_path: Path) -> None:
    text = (BUILTIN_DIR / "bazaar.yaml").read_text()
    folder = tmp_path / "profiles"
    folder.mkdir()
    good = folder / "bazaar.yaml"
    good.write_text(text + "monitor:\n  history: 3\n  coverage_drop: 0.2\n"
                    "  ignore: [condition]\n")
    loaded = load_profile(good)
    assert (loaded.monitor.history, loaded.monitor.coverage_drop) == (3, 0.2)
    # bazaar never fetches detail pages: their description is not watched
    assert monitor.monitored_fields(loaded) == ["price", "seller", "seller_location",
                                                "image_urls"]
    lines = len(text.splitlines())
    for bad, where, what in (
            ("monitor:\n  coverage_drop: 1.5\n", 2, "less than 1"),
            ("monitor:\n  ignore: [sellr]\n", 2, "'seller'"),
            ("monitor:\n  histroy: 3\n", 2, "histroy"),
            ("monitor:\n  history: 2\n  min_sweeps: 3\n", 1, "cannot exceed")):
        good.write_text(text + bad)
        with pytest.raises(ConfigError) as exc:
            load_profile(good)
        problem = exc.value.problems[0]
        assert problem.startswith(f"{good}:{lines + where}:"), problem
        assert what in problem, problem
