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
            # text rules are scored on what text can tell: the hard counterfeits (only
            # photos and seller networks give them away) are scored by a sweep
            # (tests/test_networks.py)
            if record["difficulty"] != "hard":
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


def _copy_rules(tmp_path: Path) -> Path:
    shutil.copytree(RULES, tmp_path, dirs_exist_ok=True)  # reference photo folders too
    return tmp_path / "acme.yaml"


def test_apply_restages_open_cases_and_drafting_picks_them_up(tmp_path: Path, db: Path
                                                              ) -> None:
    """Rough edge: after `rules apply` open cases kept their old stage, so `notices draft`
    found nothing to draft until the next sweep."""
    lenient = _copy_rules(tmp_path)
    lenient.write_text(lenient.read_text().replace(
        "{name: takedown, min_score: 80, draft: auto}",
        "{name: takedown, min_score: 1000, draft: auto}"))
    code, out = run("rules", "apply", "--brand", "acme", "--rules", str(lenient),
                    "--db", str(db))
    assert code == 0, out
    conn = sqlite3.connect(db)
    opened = conn.execute("select count(*) from cases where stage = 'review'").fetchone()[0]
    assert opened > 0 and f"cases: {opened} opened, 0 restaged" in out
    assert conn.execute("select count(*) from cases where stage = 'takedown'"
                        ).fetchone()[0] == 0
    code, out = run("notices", "draft", "--brand", "acme", "--db", str(db))
    assert code == 0 and "0 new drafts" in out and "wait for evidence" not in out

    code, out = run("rules", "apply", "--brand", "acme", "--db", str(db), "--json")
    assert code == 0, out
    report = json.loads(out)
    takedown = conn.execute("select count(*) from cases where stage = 'takedown'"
                            ).fetchone()[0]
    assert takedown > 0 and report["cases_restaged"] == takedown
    assert conn.execute("select count(*) from case_events where action = 'restage' and "
                        "reason like 'stage review -> takedown%'").fetchone()[0] == takedown
    # the restaged cases are ready (their stage drafts automatically): only evidence is
    # missing, which the drafting run says
    code, out = run("notices", "draft", "--brand", "acme", "--db", str(db))
    assert code == 0 and f"{takedown} cases wait for evidence" in out


def test_backtest_without_rules_compares_the_file_with_the_stored_verdicts(
        tmp_path: Path, db: Path) -> None:
    """Rough edge: without --rules the edited file was compared with itself."""
    code, _ = run("rules", "apply", "--brand", "acme", "--db", str(db))
    assert code == 0
    edited = _copy_rules(tmp_path)
    edited.write_text(edited.read_text().replace("{name: review, min_score: 50}",
                                                 "{name: review, min_score: 60}"))
    # the brand's rule file is found through BRANDSWEEP_RULES, as an analyst edits it
    result = CliRunner(env={"BRANDSWEEP_RULES": str(tmp_path)}).invoke(
        cli, ["rules", "backtest", "--brand", "acme", "--db", str(db), "--json"])
    report = json.loads(result.output)
    assert result.exit_code == 0
    assert report["current_version"] == "stored verdicts"
    assert report["candidate_version"] != report["current_version"]
    assert report["changes"] == {"unstaged": 22}
    result = CliRunner(env={"BRANDSWEEP_RULES": str(tmp_path)}).invoke(
        cli, ["rules", "backtest", "--brand", "acme", "--db", str(db)])
    assert "against the verdicts in the store" in result.output


def test_score_with_a_binary_truth_file_is_one_line(tmp_path: Path) -> None:
    truth = tmp_path / "truth.jsonl"
    truth.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    code, out = run("rules", "score", "--brand", "acme", "--truth", str(truth))
    assert code == 2 and "is not UTF-8" in out and "Traceback" not in out


@pytest.mark.parametrize("content, message", [
    (b"", "holds no truth records"),
    (b'{"title": "t", "label": "weird"}\n', "label 'weird' is not one of"),
    (b"[" * 100_000, "nested too deeply"),
])
def test_a_truth_file_that_cannot_be_scored_is_one_line(tmp_path: Path, content: bytes,
                                                        message: str) -> None:
    """A truth file with nothing (or nonsense) in it must not score 'precision 1.000'."""
    truth = tmp_path / "truth.jsonl"
    truth.write_bytes(content)
    code, out = run("rules", "score", "--brand", "acme", "--truth", str(truth))
    assert code == 2 and message in out and "Traceback" not in out


def test_a_truth_fifo_does_not_hang(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "truth.jsonl"
    os.mkfifo(fifo)
    code, out = run("rules", "score", "--brand", "acme", "--truth", str(fifo))
    assert code == 2 and "not a regular file" in out


@pytest.mark.parametrize("target", ["/dev/zero", "fifo"])
def test_a_list_file_that_is_a_device_or_fifo_does_not_hang(tmp_path: Path,
                                                           target: str) -> None:
    import os

    path = _copy_rules(tmp_path)
    if target == "fifo":
        os.mkfifo(tmp_path / "fifo.txt")
        target = str(tmp_path / "fifo.txt")
    path.write_text(path.read_text().replace("file: common-replica-wording.txt",
                                             f"file: {target}"))
    code, out = run("rules", "check", str(path))
    assert code == 1 and "not a regular file" in out


def test_a_keyword_without_letters_is_a_rule_set_error(tmp_path: Path) -> None:
    path = _copy_rules(tmp_path)
    text = path.read_text()
    assert "  keywords:\n    - acme\n" in text
    path.write_text(text.replace("  keywords:\n    - acme\n",
                                 '  keywords:\n    - "\\u200b"\n    - acme\n', 1))
    code, out = run("rules", "check", str(path))
    assert code == 1 and "has no letter or digit" in out


@pytest.mark.parametrize("brand", ["../probe/trav", "Acme Inc", "acme.yaml"])
def test_a_brand_that_is_not_a_name_is_one_line(brand: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["sweep", "--brand", brand, "--db",
                                      str(tmp_path / "s.db")])
    assert result.exit_code == 2 and "is not a brand name" in result.output
    assert not list(tmp_path.iterdir())  # no store, no lock


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
