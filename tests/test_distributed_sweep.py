"""Distributed sweeps end to end: the real ``brandsweep worker`` and ``brandsweep sweep
--redis`` processes, a real redis-server on loopback, real Scrapy and Chromium, the fixture
marketplaces. What they store must be what a local sweep stores."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from fixtures.catalogue import Catalogue
from fixtures.redisserver import redis_server
from fixtures.server import FixtureServer
from fixtures.server import stats as fixture_stats
from tests.cli import SCRIPT, rows, run
from tests.test_sweep import assert_store_matches_truth, expected

pytestmark = [pytest.mark.redis]

HTTP_MARKETS = ("bazaar", "megamart", "tradehub")


def _env(server: FixtureServer) -> dict[str, str]:
    return dict(os.environ, BRANDSWEEP_FIXTURE_URL=server.url)


def _worker(server: FixtureServer, redis_url: str, name: str, *extra: str
            ) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [SCRIPT, "worker", "--redis", redis_url, "--id", f"{name}-{uuid.uuid4().hex[:6]}",
         "--lease", "4", "--idle-exit", "300", *extra],
        env=_env(server), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@contextmanager
def workers(server: FixtureServer, redis_url: str, n: int, *extra: str
            ) -> Iterator[list[subprocess.Popen[str]]]:
    """``n`` worker processes; stopped (SIGTERM) when the block ends."""
    procs = [_worker(server, redis_url, f"w{i}", *extra) for i in range(n)]
    try:
        yield procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _table(db: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows, sorted, with JSON lists of keywords sorted (their order is the order in
    which pages happened to be read)."""
    out = []
    for row in rows(db, sql):
        fixed = []
        for value in row:
            if isinstance(value, str) and value.startswith("["):
                try:
                    data = json.loads(value)
                    value = json.dumps(sorted(data) if all(isinstance(x, str) for x in data)
                                       else data)
                except ValueError:
                    pass
            fixed.append(value)
        out.append(tuple(fixed))
    return sorted(out, key=repr)


COMPARED = {
    "listings": "select marketplace, listing_id, url, title, description, price, price_high,"
                " currency, seller, seller_id, seller_url, seller_location, ships_from, "
                "condition, image_urls, units_sold, moq, keywords, campaigns, render_mode "
                "from listings",
    "observations": "select marketplace, listing_id, url, title, price, price_high, "
                    "currency, seller, keywords, render_mode from observations",
    "verdicts": "select brand, marketplace, listing_id, version, score, stage, matches "
                "from evaluations",
    "cases": "select brand, marketplace, listing_id, stage, score, status, relisted_from "
             "from cases",
    "notice items": "select brand, program, marketplace, listing_id, url, title, price, "
                    "currency, seller, reason_code, reason, rules from notice_items",
    "notices": "select brand, program, marketplace, seller, ip_type, status, part, parts "
               "from notices",
}


@pytest.mark.browser
def test_two_workers_store_exactly_what_a_local_sweep_stores(
        fixture_server: FixtureServer, redis_url: str, tmp_path: Path) -> None:
    local, shared = tmp_path / "local.db", tmp_path / "shared.db"
    with workers(fixture_server, redis_url, 2) as procs:
        # the local sweep runs meanwhile: two stores, the same world
        solo = subprocess.Popen([SCRIPT, "sweep", "--brand", "acme", "--db", str(local),
                                 "--json"], env=_env(fixture_server), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        together = run(fixture_server, "sweep", "--brand", "acme", "--db", str(shared),
                       "--redis", redis_url, "--json")
        out, err = solo.communicate(timeout=400)
        assert together.returncode == 0, together.stderr
    alone = subprocess.CompletedProcess(solo.args, solo.returncode, out, err)
    assert alone.returncode == 0, alone.stderr
    for p in procs:
        assert p.returncode == 0, p.stderr.read() if p.stderr else ""
    a, b = json.loads(alone.stdout), json.loads(together.stdout)
    assert b["marketplaces"]["shopfront"]["render_mode"] == "browser"
    for name in a["marketplaces"]:
        for key in ("status", "listings", "new_listings", "cards", "no_results",
                    "detail_pages", "refused_urls"):
            assert a["marketplaces"][name][key] == b["marketplaces"][name][key], (name, key)
        assert a["marketplaces"][name]["pages"] == b["marketplaces"][name]["pages"], name
    assert a["staged"] == b["staged"]
    assert a["cases"]["drafted_listings"] > 0
    for what, sql in COMPARED.items():
        assert _table(local, sql) == _table(shared, sql), what


def test_killing_a_worker_loses_nothing(fixture_server: FixtureServer, redis_url: str,
                                        catalogue: Catalogue, tmp_path: Path) -> None:
    """kill -9 of one of three workers at a random moment, five times: every truth
    listing stored once, the crawl ends ok (the dead worker's leases run out and go to
    the others)."""
    truth = {(m, str(r["listing_id"])): dict(r) | {"keywords": ["acme"]}
             for m in HTTP_MARKETS for r in catalogue.truth(fixture_server.url, m, "acme")}
    assert len(truth) > 100
    markets = [a for m in HTTP_MARKETS for a in ("--marketplace", m)]
    chance = random.Random(15)  # the moments, reproducibly
    # three workers throughout: the killed one is replaced before the next run
    with workers(fixture_server, redis_url, 3) as procs:
        for attempt in range(5):
            db = tmp_path / f"kill-{attempt}.db"
            crawl = subprocess.Popen(
                [SCRIPT, "crawl", "--campaign", "kill", "--keyword", "acme", "--db", str(db),
                 "--redis", redis_url, "--json", *markets],
                env=_env(fixture_server), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True)
            # a moment while it runs: after its first listing is stored, before the end
            give_up = time.monotonic() + 60
            while time.monotonic() < give_up and crawl.poll() is None and not _stored(db):
                time.sleep(0.05)
            time.sleep(chance.uniform(0.0, 1.5))
            victim = chance.choice(procs)
            victim.kill()
            out, err = crawl.communicate(timeout=300)
            assert victim.wait(timeout=30) == -signal.SIGKILL
            procs[procs.index(victim)] = _worker(fixture_server, redis_url, f"r{attempt}")
            _check_kill_run(db, truth, attempt, crawl.returncode, out, err)


def _check_kill_run(db: Path, truth: dict[tuple[str, str], dict[str, Any]], attempt: int,
                    code: int, out: str, err: str) -> None:
    assert code == 0, (attempt, err)
    summary = json.loads(out)
    assert {m["status"] for m in summary["marketplaces"].values()} == {"ok"}
    assert_store_matches_truth(db, truth)
    per_sweep = rows(db, "select marketplace, listing_id, count(*) from observations "
                         "group by 1, 2 having count(*) > 1")
    assert per_sweep == [], "a listing observed twice in one sweep"


def test_a_killed_coordinator_is_resumed_by_the_next_run(
        fixture_server: FixtureServer, redis_url: str, catalogue: Catalogue,
        tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    truth = expected(catalogue, fixture_server.url, "acme", HTTP_MARKETS)
    markets = [a for m in HTTP_MARKETS for a in ("--marketplace", m)]
    command = [SCRIPT, "sweep", "--brand", "acme", "--db", str(db), "--redis", redis_url,
               "--no-evidence", "--json", *markets]
    with workers(fixture_server, redis_url, 2):
        first = subprocess.Popen(command, env=_env(fixture_server),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # killed once it has stored something, before it has finished
        give_up = time.monotonic() + 120
        while time.monotonic() < give_up and first.poll() is None:
            if db.exists() and _stored(db):
                break
            time.sleep(0.05)
        first.kill()
        first.wait()
        second = run(fixture_server, *command[1:])
    assert second.returncode == 0, second.stderr
    summary = json.loads(second.stdout)
    assert summary["resumed"] == 1
    assert rows(db, "select id, status from sweeps") == [(1, "interrupted"), (2, "ok")]
    assert_store_matches_truth(db, truth)


def _stored(db: Path) -> int:
    """Listings stored so far, read as an analyst's command would while a sweep runs."""
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return int(con.execute("select count(*) from listings").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def test_a_marketplace_limit_holds_across_workers(redis_url: str, tmp_path: Path) -> None:
    """Concurrency 2 for bazaar, three workers of concurrency 8 each: the server never
    sees more than 2 of its pages at once."""
    profiles = tmp_path / "marketplaces"
    profiles.mkdir()
    from crawler.profiles.loading import load_profiles

    source = Path(load_profiles()["bazaar"].source).read_text()
    assert "concurrency: 4" in source
    (profiles / "bazaar.yaml").write_text(source.replace("concurrency: 4", "concurrency: 2"))
    with FixtureServer(port=0, hard=False, seed=7) as server, \
            workers(server, redis_url, 3, "--marketplaces", str(profiles)):
        done = run(server, "crawl", "--campaign", "limit", "--marketplace", "bazaar",
                   "--keyword", "acme", "--keyword", "acme headphones", "--keyword",
                   "acme backpack", "--db", str(tmp_path / "store.db"), "--redis", redis_url,
                   "--marketplaces", str(profiles), "--json")
        assert done.returncode == 0, done.stderr
        stats = fixture_stats(server.url)
    assert stats["requests"]["bazaar"] > 10
    assert 1 <= stats["peak"]["bazaar"] <= 2


def test_redis_down_is_one_line_and_exit_2_with_nothing_written(
        fixture_server: FixtureServer, tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    done = run(fixture_server, "sweep", "--brand", "acme", "--db", str(db), "--redis",
               "redis://127.0.0.1:1/0")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert "redis://127.0.0.1:1/0" in done.stderr
    assert not db.exists()
    worker = subprocess.run([SCRIPT, "worker", "--redis", "redis://127.0.0.1:1/0"],
                            capture_output=True, text=True, timeout=60)
    assert worker.returncode == 2
    assert worker.stderr.startswith("Error: Redis at redis://127.0.0.1:1/0 is unavailable")


def test_redis_lost_mid_sweep_fails_the_sweep_and_keeps_the_store_consistent(
        fixture_server: FixtureServer, tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    folder = tmp_path / "redis"
    folder.mkdir()
    with redis_server(folder) as (proc, url), workers(fixture_server, url, 1) as procs:
        sweep = subprocess.Popen(
            [SCRIPT, "sweep", "--brand", "acme", "--db", str(db), "--redis", url,
             "--no-evidence", "--json", *[a for m in HTTP_MARKETS
                                         for a in ("--marketplace", m)]],
            env=_env(fixture_server), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        give_up = time.monotonic() + 120
        while time.monotonic() < give_up and not (db.exists() and _stored(db)):
            time.sleep(0.05)
        proc.kill()
        out, err = sweep.communicate(timeout=120)
        procs[0].wait(timeout=60)
    assert sweep.returncode == 3, err
    summary = json.loads(out)
    assert summary["status"] == "failed"
    reasons = [m["reason"] for m in summary["marketplaces"].values()]
    assert all("Redis at" in (r or "") for r in reasons), reasons
    assert procs[0].returncode == 1
    assert rows(db, "pragma integrity_check") == [("ok",)]
    assert rows(db, "select status from sweeps") == [("failed",)]
    # every stored listing was observed by the sweep, and judged
    assert rows(db, "select count(*) from listings where marketplace || listing_id not in "
                    "(select marketplace || listing_id from observations)") == [(0,)]


def test_sigterm_hands_a_workers_requests_back_and_it_exits_0(
        fixture_server: FixtureServer, redis_url: str, catalogue: Catalogue,
        tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    truth = {("bazaar", str(r["listing_id"])): dict(r) | {"keywords": ["acme"]}
             for r in catalogue.truth(fixture_server.url, "bazaar", "acme")}
    with workers(fixture_server, redis_url, 2) as procs:
        crawl = subprocess.Popen(
            [SCRIPT, "crawl", "--campaign", "term", "--keyword", "acme", "--marketplace",
             "bazaar", "--db", str(db), "--redis", redis_url, "--json"],
            env=_env(fixture_server), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        give_up = time.monotonic() + 60
        while time.monotonic() < give_up and crawl.poll() is None and not _stored(db):
            time.sleep(0.05)
        procs[0].send_signal(signal.SIGTERM)
        assert procs[0].wait(timeout=60) == 0
        said = procs[0].stderr.read() if procs[0].stderr else ""
        out, err = crawl.communicate(timeout=300)
    assert "worker ended (stopped)" in said, said
    assert crawl.returncode == 0, err
    assert json.loads(out)["marketplaces"]["bazaar"]["status"] == "ok"
    assert_store_matches_truth(db, truth)
