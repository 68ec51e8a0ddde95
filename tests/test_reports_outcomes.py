"""Takedown outcomes (``crawler.reports.outcomes``, ``brandsweep outcomes``) on the
fixture timeline: sweep, submit every notice, verify on day 1, sweep on day 2; the
figures must be what the fixture truth's takedowns and relistings say."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import lxml.html
import pytest

from crawler.reports import outcomes as oc
from crawler.store import Store
from fixtures.catalogue import Catalogue
from fixtures.server import FixtureServer
from tests import cli
from tests.cli import SCRIPT, rows

MARKETS = ("bazaar", "tradehub")


def run(server: FixtureServer, *args: str) -> subprocess.CompletedProcess[str]:
    return cli.run(server, *args, timeout=600)  # its first sweep is longer than most


@pytest.mark.browser
def test_outcomes_on_the_fixture_timeline_match_the_truth(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    sweep = ["sweep", "--brand", "acme", "--max-pages", "2", "--db", str(db),
             *[a for m in MARKETS for a in ("--marketplace", m)]]
    with FixtureServer(port=0, seed=7, hard=False) as server:
        first = run(server, *sweep)
        assert first.returncode == 0, first.stdout + first.stderr
        none_yet = run(server, "outcomes", "--brand", "acme", "--db", str(db))
        assert none_yet.returncode == 0 and "no submitted notices yet" in none_yet.stdout
        ids = [str(i) for (i,) in rows(db, "select id from notices")]
        assert ids
        assert run(server, "notices", "mark-submitted", *ids, "--by", "dana", "--db",
                   str(db)).returncode == 0
        server.app.set_day(1)
        checked = run(server, "verify", "--brand", "acme", "--db", str(db))
        assert checked.returncode == 0, checked.stderr
        server.app.set_day(2)
        later = run(server, *sweep)
        assert later.returncode == 0, later.stdout + later.stderr
        got = run(server, "outcomes", "--brand", "acme", "--json", "--db", str(db))
        assert got.returncode == 0, got.stderr
        text = run(server, "outcomes", "--brand", "acme", "--db", str(db))
    report = json.loads(got.stdout)

    submitted = set(rows(db, "select i.marketplace, i.listing_id from notice_items i join "
                         "notices n on n.id = i.notice_id where n.submitted_at is not null"))
    taken_down = {(c.marketplace, c.listing_id) for c in Catalogue(7, 1, hard=False).changes
                  if c.change == "removed"}
    came_back = [c for c in Catalogue(7, 2, hard=False).changes if c.change == "relisted"]
    # a relisting is found when the day-2 sweep saw the new listing and staged it
    staged = set(rows(db, "select marketplace, listing_id from cases"))
    by_market: dict[str, dict[str, int]] = {}
    for g in report["groups"]:
        mine = by_market.setdefault(g["marketplace"], {})
        for k in ("listings", "removed", "still_live", "pending", "relisted",
                  "relisted_30d", "notices"):
            mine[k] = mine.get(k, 0) + g[k]
    assert set(by_market) == set(MARKETS)
    total_removed = 0
    for market in MARKETS:
        mine = {lid for m, lid in submitted if m == market}
        removed = mine & {lid for m, lid in taken_down if m == market}
        relisted = {c.detail["relisted_from"] for c in came_back if c.marketplace == market
                    and c.detail["relisted_from"] in removed
                    and (market, c.listing_id) in staged}
        f = by_market[market]
        assert f["listings"] == len(mine), market
        assert f["removed"] == len(removed), market
        assert f["still_live"] == len(mine - removed), market  # all verified on day 1
        assert f["pending"] == 0, market
        assert f["relisted"] == f["relisted_30d"] == len(relisted), market
        assert f["notices"] == len(rows(db, "select 1 from notices where marketplace = ? "
                                        "and submitted_at is not null", market))
        total_removed += len(removed)
    assert total_removed > 0 and report["total"]["relisted"] > 0  # the world moved
    t = report["total"]
    assert t["removal_rate"] == round(t["removed"] / t["listings"], 4)
    assert t["relist_rate_30d"] == round(t["relisted_30d"] / t["removed"], 4)
    assert 0 <= t["median_seconds"] <= t["p90_seconds"]
    assert sum(d["submitted"] for d in report["timeline"].values()) == t["listings"]
    assert sum(d["removed"] for d in report["timeline"].values()) == t["removed"]
    assert text.returncode == 0 and "takedown outcomes (brand acme)" in text.stdout
    assert any(line.split()[:2] == ["bazaar", "ebay_vero"] for line in text.stdout
               .splitlines())

    # --since after every submission: nothing; the report carries the same figures
    later_day = run(server, "outcomes", "--since", "2999-01-01", "--db", str(db), "--json")
    assert json.loads(later_day.stdout)["groups"] == []
    store = Store(db)
    assert oc.gather(store, "acme").as_dict() == report

    # the sweep report carries the same figures, as a table and a chart per day
    as_json = run(server, "report", "--last", "--format", "json", "--db", str(db))
    assert json.loads(as_json.stdout)["outcomes"] == report
    html = run(server, "report", "--last", "--format", "html", "--db", str(db)).stdout
    page = lxml.html.fromstring(html)
    table = page.get_element_by_id("outcomes")
    last = [td.text for td in table.xpath(".//tr")[-1].xpath("./td")]
    assert last[:5] == ["all", "all", str(t["notices"]), str(t["listings"]),
                        str(t["removed"])]
    bars = page.get_element_by_id("chart-outcomes").xpath(".//rect[@class='bar']")
    assert sum(int(b.get("data-value")) for b in bars) == sum(
        sum(d.values()) for d in report["timeline"].values())
    assert "<script" not in html and "<link" not in html  # inline SVG, no CDN
    plain = run(server, "report", "--last", "--db", str(db)).stdout
    assert f"takedown outcomes: {t['listings']} listings" in plain


def test_p90_and_durations() -> None:
    assert oc.p90([5.0]) == 5.0
    assert oc.p90([float(v) for v in range(1, 11)]) == 9.0
    assert oc.p90([float(v) for v in range(1, 12)]) == 10.0
    assert [oc.duration(s) for s in (None, 4, 600, 5400, 86400 * 2)] == [
        "-", "4s", "10m", "1.5h", "2.0d"]


def test_bad_since_is_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run([SCRIPT, "outcomes", "--since", "yesterday", "--db",
                           str(tmp_path / "none.db")], capture_output=True, text=True)
    assert done.returncode == 2 and "--since" in done.stderr
    missing = subprocess.run([SCRIPT, "outcomes", "--db", str(tmp_path / "none.db")],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and missing.stderr.startswith("Error: no store at")


def test_figures_from_a_case_history_over_weeks(tmp_path: Path) -> None:
    """Times as a long-running store holds them: removals days apart, a relisting inside
    and one outside the 30 days, a case verify has not looked at, one still live."""
    store = Store(tmp_path / "store.db")
    store.migrate()
    conn = store.db.conn
    def day(n: int) -> str:  # day n of March 2026, or of April past 31
        month, d = (3, n) if n <= 31 else (4, n - 31)
        return f"2026-{month:02d}-{d:02d}T09:00:00.000000Z"

    with conn:
        conn.execute("insert into notices (id, brand, program, marketplace, status, "
                     "created_at, submitted_at, sender) values (1, 'acme', 'dmca', 'm', "
                     "'submitted', ?, ?, 'x'), (2, 'acme', 'dmca', 'm', 'submitted', ?, ?, "
                     "'x'), (3, 'other', 'dmca', 'm', 'submitted', ?, ?, 'x')",
                     [day(1), day(1), day(1), day(1), day(1), day(1)])
        history = {  # case: (status now, [(action, day)])
            1: ("relisted", [("removed", 3), ("relisted", 8)]),
            2: ("relisted", [("removed", 2), ("relisted", 45)]),  # 43 days later
            3: ("submitted", []),
            4: ("still_live", [("still_live", 2)]),
            5: ("removed", [("removed", 11)]),
        }
        for case_id, (status, events) in history.items():
            conn.execute("insert into cases (id, brand, marketplace, listing_id, status, "
                         "opened_at) values (?, 'acme', 'm', ?, ?, ?)",
                         [case_id, f"L{case_id}", status, day(1)])
            conn.execute("insert into notice_items (notice_id, case_id, brand, program, "
                         "marketplace, listing_id) values (?, ?, 'acme', 'dmca', 'm', ?)",
                         [1 if case_id < 5 else 2, case_id, f"L{case_id}"])
            for action, d in events:
                conn.execute("insert into case_events (case_id, at, by, action) values "
                             "(?, ?, 'verify', ?)", [case_id, day(d), action])
        conn.execute("insert into cases (id, brand, marketplace, listing_id, status, "
                     "opened_at) values (6, 'other', 'm', 'L6', 'submitted', ?)", [day(1)])
        conn.execute("insert into notice_items (notice_id, case_id, brand, program, "
                     "marketplace, listing_id) values (3, 6, 'other', 'dmca', 'm', 'L6')")
    got = oc.gather(store, "acme")
    (g,) = got.groups
    assert (g.notices, g.listings, g.removed, g.still_live, g.pending) == (2, 5, 3, 1, 1)
    assert (g.relisted, g.relisted_30d) == (2, 1)  # 5 and 43 days after the removal
    assert g.removal_rate == 0.6 and g.relist_rate_30d == round(1 / 3, 4)
    assert (g.median_seconds, g.p90_seconds) == (2 * 86400, 10 * 86400)
    assert got.timeline[day(1)[:10]]["submitted"] == 5
    assert got.timeline[day(45)[:10]] == {"submitted": 0, "removed": 0, "relisted": 1}
    assert oc.gather(store).total.listings == 6  # every brand
    assert oc.gather(store, "acme", since=day(2)).groups == []
