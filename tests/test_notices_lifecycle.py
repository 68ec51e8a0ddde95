"""From sweep to removed and relisted, as a user runs it: the real ``brandsweep`` script,
real Chromium for evidence, a real SQLite file, and the fixture world moving day by day."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from fixtures.catalogue import Catalogue
from fixtures.server import FixtureServer
from tests.cli import SCRIPT, rows, run

# what each program's text must carry (PRODUCT.md, Notices)
ELEMENTS = {
    "ebay_vero": ["NOTICE OF CLAIMED INFRINGEMENT", "Rights owner: Acme Consumer Products",
                  "Dana Whitfield, Brand Protection Manager", "1200 Harbor Drive",
                  "brandprotection@acme.example", "+1 503 555 0142", "registration 5123456",
                  "Reason code: 1.", "good faith belief", "under penalty of perjury",
                  "Signature: /Dana Whitfield/", "Date: 20"],
    "amazon": ["IP type (one per notice): trademark", "registration number 5123456",
               "Secondary contact email: legal@acme.example", "good faith belief",
               "under penalty of perjury", "Signature: /Dana Whitfield/"],
    "alibaba_ipp": ["Approved IP record: IPR-ACME-0001", "Reason: trademark infringement",
                    "one per line", "Supplementary explanation"],
    "eu_dsa": ["Substantiated explanation", "Exact electronic location",
               "Dana Whitfield (Acme Consumer Products, Inc.), brandprotection@acme.example",
               "bona fide belief"],
}


@pytest.mark.browser
def test_sweep_drafts_with_evidence_then_verify_and_relisting(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    with FixtureServer(port=0, hard=False, seed=7) as server:
        first = run(server, "sweep", "--brand", "acme", "--max-pages", "2", "--db", str(db),
                    "--json")
        assert first.returncode == 0, first.stderr
        found = json.loads(first.stdout)["cases"]
        staged = rows(db, "select count(*) from evaluations where stage is not null")[0][0]
        assert found["new"] == staged == found["evidence_captured"] > 20
        assert set(found["drafts_by_program"]) == set(ELEMENTS)  # every fixture program

        for (notice_id, program) in rows(db, "select id, program from notices"):
            text = run(server, "notices", "show", str(notice_id), "--db", str(db)).stdout
            for element in ELEMENTS[program]:
                assert element in text, (program, element)
            for url, sha in rows(db, "select i.url, json_extract(i.evidence, "
                                 "'$.screenshot_sha256') from notice_items i where "
                                 "i.notice_id = ?", notice_id):
                assert url in text and (program == "alibaba_ipp" or sha in text)
        assert run(server, "evidence", "verify", "--db", str(db)).returncode == 0

        again = run(server, "sweep", "--brand", "acme", "--max-pages", "2", "--db", str(db),
                    "--json")
        assert again.returncode == 0, again.stderr
        repeat = json.loads(again.stdout)["cases"]
        assert (repeat["new"], repeat["drafts_new"], repeat["evidence_captured"]) == (0, 0, 0)

        ids = [str(i) for (i,) in rows(db, "select id from notices")]
        assert run(server, "notices", "mark-submitted", *ids, "--by", "dana", "--db",
                   str(db)).returncode == 0
        server.app.set_day(1)
        checked = run(server, "verify", "--brand", "acme", "--db", str(db), "--json")
        assert checked.returncode == 0, checked.stderr
        taken_down = {(c.marketplace, c.listing_id) for c in Catalogue(7, 1, hard=False).changes
                      if c.change == "removed"}
        submitted = set(rows(db, "select marketplace, listing_id from cases where status in "
                             "('removed', 'still_live')"))
        removed = set(rows(db, "select marketplace, listing_id from cases where "
                           "status = 'removed'"))
        assert removed == submitted & taken_down and removed

        server.app.set_day(2)
        later = run(server, "sweep", "--brand", "acme", "--max-pages", "2", "--db", str(db),
                    "--json")
        assert later.returncode == 0, later.stderr
        came_back = {(c.marketplace, c.listing_id, c.detail["relisted_from"])
                     for c in Catalogue(7, 2, hard=False).changes if c.change == "relisted"}
        linked = set(rows(db, "select n.marketplace, n.listing_id, o.listing_id from cases n "
                          "join cases o on o.id = n.relisted_from"))
        assert linked and linked <= came_back
        assert {r for r in came_back if (r[0], r[2]) in removed and rows(
            db, "select 1 from cases where listing_id = ?", r[1])} == linked
        assert set(rows(db, "select status from cases where id in (select relisted_from "
                        "from cases)")) == {("relisted",)}
        listed = run(server, "review", "list", "--status", "relisted", "--db", str(db))
        assert len(listed.stdout.splitlines()) == len(linked)


def _invariants(db: Path) -> None:
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]
    # no notice without items, no noticed case outside a notice, no item twice
    assert rows(db, "select count(*) from notices n where not exists (select 1 from "
                "notice_items i where i.notice_id = n.id)") == [(0,)]
    assert rows(db, "select count(*) from cases c where c.status = 'noticed' and not exists "
                "(select 1 from notice_items i where i.case_id = c.id)") == [(0,)]
    assert rows(db, "select count(*) from cases c where c.status != 'noticed' and exists "
                "(select 1 from notice_items i where i.case_id = c.id)") == [(0,)]


@pytest.mark.browser
def test_kill_9_during_evidence_and_drafting_loses_and_duplicates_nothing(
        tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    rng = random.Random(5)
    with FixtureServer(port=0, hard=False, seed=7) as server:
        done = run(server, "sweep", "--brand", "velora", "--max-pages", "2", "--no-evidence",
                   "--no-draft", "--db", str(db))
        assert done.returncode == 0, done.stderr
        total = rows(db, "select count(*) from cases")[0][0]
        env = dict(os.environ, BRANDSWEEP_FIXTURE_URL=server.url)
        for step in (["evidence", "capture"], ["notices", "draft", "--brand", "velora"]):
            for _ in range(4):
                proc = subprocess.Popen([SCRIPT, *step, "--db", str(db)], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
                time.sleep(rng.uniform(0.8, 4.0))
                os.killpg(proc.pid, signal.SIGKILL)  # Chromium too, as the OOM killer would
                proc.wait()
                _invariants(db)
                assert run(server, "evidence", "verify", "--db", str(db)).returncode == 0
            finished = run(server, *step, "--db", str(db))
            assert finished.returncode == 0, finished.stderr
        assert rows(db, "select count(*) from evidence") == [(total,)]
        _invariants(db)
        # the same notices an uninterrupted run drafts: every ready case exactly once
        ready = rows(db, "select count(*) from cases where stage = 'takedown'")[0][0]
        assert rows(db, "select count(*), count(distinct case_id) from notice_items") == [
            (ready, ready)]
        assert run(server, "notices", "draft", "--brand", "velora", "--db",
                   str(db)).stdout.startswith("0 new drafts")
