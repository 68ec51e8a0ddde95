"""Scheduled sweeps as cron runs them: crontab entries, the job under ``env -i``, one
sweep per brand (exit 75), resuming after ``kill -9``, and the schedule file's errors."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from fixtures.faults import FaultSettings, parse_faults
from fixtures.server import FixtureServer

SCRIPT = str(Path(sys.executable).with_name("brandsweep"))


def cli_run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def write_schedule(folder: Path, url: str) -> Path:
    path = folder / "schedule.yaml"
    path.write_text(f"""\
db: store.db
jobs:
  - name: acme-quick
    brands: [acme]
    cron: "15 */4 * * *"
    marketplaces: [bazaar, tradehub]
    max_pages: 1
    evidence: false
    env: {{BRANDSWEEP_FIXTURE_URL: "{url}"}}
  - name: velora-nightly
    brands: [velora]
    cron: "0 3 * * 1-5"
""")
    return path


def test_install_replaces_lists_and_removes_only_ours(tmp_path: Path) -> None:
    schedule = write_schedule(tmp_path, "http://127.0.0.1:1")
    tab = tmp_path / "crontab"
    tab.write_text("MAILTO=ops@example.com\n0 1 * * * /usr/bin/backup # nightly backup\n")
    for _ in range(2):  # a second install replaces, never duplicates
        code, out = cli_run("schedule", "install", "--file", str(schedule), "--tabfile",
                            str(tab))
        assert code == 0, out
    lines = tab.read_text().splitlines()
    assert lines[:2] == ["MAILTO=ops@example.com",
                         "0 1 * * * /usr/bin/backup # nightly backup"]
    ours = [line for line in lines if "# brandsweep:" in line]
    assert len(ours) == 2
    quick = next(line for line in ours if line.endswith(":acme-quick"))
    assert quick.startswith(f"15 */4 * * * cd {tmp_path} && BRANDSWEEP_FIXTURE_URL=")
    assert f"{sys.executable} -m crawler schedule run acme-quick --file {schedule}" in quick
    code, out = cli_run("schedule", "list", "--tabfile", str(tab), "--next", "2")
    assert code == 0 and out.count("next:") == 2 and "0 3 * * 1-5" in out
    code, out = cli_run("schedule", "remove", "--file", str(schedule), "--tabfile", str(tab))
    assert code == 0 and out.startswith("2 jobs removed")
    assert tab.read_text().splitlines() == lines[:2]


def test_the_installed_command_runs_a_sweep_under_env_i(tmp_path: Path) -> None:
    tab = tmp_path / "crontab"
    with FixtureServer(port=0, seed=7) as server:
        schedule = write_schedule(tmp_path, server.url)
        assert cli_run("schedule", "install", "--file", str(schedule), "--tabfile",
                       str(tab))[0] == 0
        line = next(x for x in tab.read_text().splitlines() if x.endswith(":acme-quick"))
        command = line.split(" ", 5)[5].rsplit(" # ", 1)[0]
        done = subprocess.run(["env", "-i", "/bin/sh", "-c", command], capture_output=True,
                              text=True, timeout=300, cwd="/")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # cron mails stdout: nothing when all is well
    con = sqlite3.connect(tmp_path / "store.db")
    assert con.execute("select status, brand from sweeps").fetchall() == [("ok", "acme")]
    assert con.execute("select count(distinct marketplace) from listings").fetchone() == (2,)
    log = (tmp_path / "logs" / "acme-quick.log").read_text()
    assert "job acme-quick starts" in log and "acme: sweep 1 ok" in log
    assert (tmp_path / "logs" / "acme-quick-sweep-1.html").is_file()


def test_a_bad_schedule_file_is_reported_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "schedule.yaml"
    path.write_text("jobs:\n  - name: x\n    brands: [acme]\n    cron: '61 * * * *'\n"
                    "    max_page: 3\n")
    code, out = cli_run("schedule", "install", "--file", str(path), "--tabfile",
                        str(tmp_path / "tab"))
    assert code == 2
    assert f"{path}:4:5: jobs.0.cron: '61 * * * *' is not a five-field cron" in out
    assert f"{path}:5:5: jobs.0.max_page: unknown field 'max_page' (did you mean " \
           "'max_pages'?)" in out
    assert not (tmp_path / "tab").exists()
    code, out = cli_run("schedule", "run", "nope", "--file", str(path))
    assert code == 2


def sweep(server: FixtureServer, db: Path, *extra: str) -> subprocess.Popen[str]:
    env = dict(os.environ, BRANDSWEEP_FIXTURE_URL=server.url)
    return subprocess.Popen([SCRIPT, "sweep", "--brand", "velora", "--db", str(db),
                             "--no-evidence", "--json", *extra], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)


def wait_for(db: Path, sql: str, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            con = sqlite3.connect(db)
            if con.execute(sql).fetchone()[0]:
                return
        except sqlite3.OperationalError:
            pass  # not created yet
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {sql}")


@pytest.mark.browser
def test_a_second_sweep_of_the_brand_exits_75_and_a_killed_ones_lock_does_not_block(
        tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    with FixtureServer(port=0, seed=7, faults=parse_faults("slow"),
                       settings=FaultSettings(slow_seconds=2)) as server:
        first = sweep(server, db)
        wait_for(db, "select count(*) from sweeps where status = 'running'")
        second = sweep(server, db)
        _out, err = second.communicate(timeout=60)
        assert second.returncode == 75, err
        assert f"a sweep of velora is already running (pid {first.pid}, started 20" in err
        assert len(err.strip().splitlines()) == 1
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        third = sweep(server, db, "--max-pages", "1")
        _out, err = third.communicate(timeout=300)
        assert third.returncode == 0, err


def snapshot(db: Path) -> dict[str, Any]:
    con = sqlite3.connect(db)
    return {
        "listings": sorted(con.execute(
            "select marketplace, listing_id, url, title, price, currency, seller, keywords "
            "from listings")),
        "evaluations": sorted(con.execute(
            "select marketplace, listing_id, score, stage, version from evaluations")),
        "cases": sorted(con.execute("select marketplace, listing_id, stage, status from "
                                    "cases")),
        "notice_items": sorted(con.execute("select program, marketplace, listing_id from "
                                           "notice_items")),
    }


@pytest.mark.browser
def test_kill_9_mid_sweep_then_the_next_run_completes_it(tmp_path: Path) -> None:
    rng = random.Random(11)
    with FixtureServer(port=0, seed=7) as server:
        whole = tmp_path / "whole.db"
        done = sweep(server, whole)
        out, err = done.communicate(timeout=300)
        assert done.returncode == 0, err
        expected = snapshot(whole)

        db = tmp_path / "killed.db"
        # kill once at a random moment, once right after a marketplace finished
        first = sweep(server, db)
        wait_for(db, "select count(*) from sweeps where status = 'running'")
        time.sleep(rng.uniform(0.5, 3.0))
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        second = sweep(server, db)
        wait_for(db, "select count(*) from sweep_progress where sweep_id = 2")
        os.killpg(second.pid, signal.SIGKILL)
        second.wait()

        last = sweep(server, db)
        out, err = last.communicate(timeout=300)
        assert last.returncode == 0, err
        summary = json.loads(out)
        assert summary["resumed"] == 2
        skipped = [m for m, h in summary["marketplaces"].items() if h.get("resumed")]
        assert skipped  # finished marketplaces are not swept again
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert [r[0] for r in con.execute("select status from sweeps order by id")] == [
        "interrupted", "interrupted", "ok"]
    assert snapshot(db) == expected
