"""``brandsweep rules``: check, test, explain, score, backtest and apply, through Click."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.items import Listing
from crawler.store import Store
from fixtures.catalogue import Catalogue

RULES = Path(__file__).resolve().parent.parent / "rules"


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("truth") / "truth.jsonl"
    with path.open("w") as f:
        for record in Catalogue(7).truth("http://127.0.0.1:8900"):
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


@pytest.fixture
def db(tmp_path: Path, truth: Path) -> Path:
    """A store holding every acme listing, as a sweep would have saved it."""
    store = Store(tmp_path / "t.db")
    store.migrate()
    sweep = store.start_sweep(kind="sweep", brand="acme", campaign=None, marketplaces=[],
                              keywords=["acme"], max_pages=0)
    items = []
    for line in truth.read_text().splitlines():
        r = json.loads(line)
        for keyword in r["keywords"]:
            items.append(Listing(
                marketplace=r["marketplace"], listing_id=r["listing_id"], url=r["url"],
                title=r["title"], keyword=keyword, render_mode="http", price=r["price"],
                price_high=r["price_high"], currency=r["currency"], seller=r["seller"],
                seller_location=r["seller_location"]))
    store.save(sweep, items)
    return tmp_path / "t.db"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_check_clean_and_broken(tmp_path: Path) -> None:
    code, out = run("rules", "check", str(RULES))
    assert code == 0 and "2 file(s): 0 error(s)" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("brand: {name: A, keywords: [a]}\nrules:\n  - {id: x, title: t, "
                   "selections: {a: {list: nope}}, condition: a, score: 1}\n")
    junit = tmp_path / "junit.xml"
    code, out = run("rules", "check", str(bad), "--junit", str(junit))
    assert code == 1
    assert f"{bad}:3:" in out and "unknown list 'nope'" in out
    assert "<failure" in junit.read_text()


def test_test_passes_and_reports_todo_and_matrix() -> None:
    code, out = run("rules", "test")
    assert code == 0, out
    assert "TODO acme-replica-wording #4" in out
    assert "failed, 1 todo" in out and "acme-disguised-name" in out and "TP" in out


def test_test_failure_is_explained(tmp_path: Path) -> None:
    shutil.copytree(RULES, tmp_path, dirs_exist_ok=True)  # reference photo folders too
    path = tmp_path / "acme.yaml"
    path.write_text(path.read_text().replace(
        '- listing: {title: "Acme Pulse X2 Wireless Headphones"}\n        expect: no_match',
        '- listing: {title: "Acme Pulse X2 Wireless Headphones"}\n        expect: match'))
    code, out = run("rules", "test", str(path))
    assert code == 1
    assert "FAIL acme-disguised-name #6: expected match, got no_match" in out
    assert "plain_name: matched title[0:4] 'Acme'" in out


def test_score_against_truth(truth: Path, db: Path) -> None:
    code, out = run("rules", "score", "--brand", "acme", "--truth", str(truth), "--json")
    data = json.loads(out)
    assert code == 0 and data["listings"] == 720
    assert data["precision"] >= 0.95 and data["recall"] >= 0.90
    code, out = run("rules", "score", "--brand", "acme", "--truth", str(truth), "--db", str(db))
    assert code == 0 and "precision 1.000  recall 1.000" in out


def test_apply_explain_backtest(tmp_path: Path, db: Path) -> None:
    code, out = run("rules", "apply", "--brand", "acme", "--db", str(db))
    assert code == 0 and "720 listings judged" in out
    conn = sqlite3.connect(db)
    review = conn.execute("select marketplace || ':' || listing_id from evaluations "
                          "where stage = 'review' order by 1 limit 1").fetchone()[0]
    code, out = run("rules", "explain", "--brand", "acme", "--listing", review, "--db", str(db))
    assert code == 0
    assert "-> stage review" in out and "+50   acme-new-from-high-risk-origin" in out
    assert "(condition not met)" in out and "stored verdict: score 50" in out

    shutil.copytree(RULES, tmp_path, dirs_exist_ok=True)  # reference photo folders too
    candidate = tmp_path / "acme.yaml"
    candidate.write_text(candidate.read_text().replace("{name: review, min_score: 50}",
                                                       "{name: review, min_score: 60}"))
    before = conn.execute("select count(*), max(evaluated_at) from evaluations").fetchone()
    code, out = run("rules", "backtest", "--brand", "acme", "--rules", str(candidate),
                    "--db", str(db), "--json")
    report = json.loads(out)
    assert code == 0 and report["listings"] == 720
    assert report["changes"] == {"unstaged": 22}
    assert report["rules"] == {}  # no rule changed what it matches; only the threshold
    assert conn.execute("select count(*), max(evaluated_at) from evaluations").fetchone() \
        == before  # nothing written without --apply
    code, out = run("rules", "backtest", "--brand", "acme", "--rules", str(candidate),
                    "--db", str(db), "--apply")
    assert code == 0 and "stored 720 verdicts" in out
    assert conn.execute("select count(*) from evaluations where stage = 'review'"
                        ).fetchone()[0] == 0


def test_explain_unknown_listing(db: Path) -> None:
    code, out = run("rules", "explain", "--brand", "acme", "--listing", "bazaar:0",
                    "--db", str(db))
    assert code == 2 and "no listing bazaar:0" in out


def test_broken_rule_set_stops_a_sweep_before_it_starts(tmp_path: Path) -> None:
    (tmp_path / "acme.yaml").write_text("brand: {name: A, keywords: [a]}\nlists: {x: {}}\n")
    code, out = run("sweep", "--brand", "acme", "--rules", str(tmp_path), "--db",
                    str(tmp_path / "x.db"))
    assert code == 2 and "acme.yaml:2:" in out and "a list needs 'terms'" in out
    assert not (tmp_path / "x.db").exists()


def test_score_prints_the_hard_counterfeits_apart(tmp_path: Path) -> None:
    """From the truth file alone (no photos, no networks), text rules miss every one."""
    path = tmp_path / "hard.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n"
                            for r in Catalogue(7, hard=True).truth("http://x")))
    code, out = run("rules", "score", "--brand", "acme", "--truth", str(path))
    assert code == 0, out
    assert "on 832 listings" in out
    assert "hard counterfeits: 0 of 112 staged (recall 0.000)" in out
    assert "easy counterfeits: 322 of 322 staged (recall 1.000)" in out
    code, out = run("rules", "score", "--brand", "acme", "--truth", str(path), "--json")
    assert json.loads(out)["by_difficulty"]["hard"] == {"counterfeits": 112, "staged": 0,
                                                        "recall": 0.0}
