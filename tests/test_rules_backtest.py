"""``crawler.rules.backtest``: the workers' shards (runs of rowids, each in rowid order)
give the very report one plain pass over the listings gives, verdicts and examples alike."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from crawler.items import Listing
from crawler.rules import loader
from crawler.rules.backtest import EXAMPLES, backtest
from crawler.store import Store
from fixtures.catalogue import Catalogue

RULES = Path(__file__).resolve().parent.parent / "rules"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """Every listing of the fixture world found by acme's keywords, judged by acme's rule
    file as it is (the stored verdicts)."""
    store = Store(tmp_path_factory.mktemp("backtest") / "t.db")
    store.migrate()
    sweep = store.start_sweep(kind="sweep", brand="acme", campaign=None, marketplaces=[],
                              keywords=["acme"], max_pages=0)
    items = [Listing(marketplace=r["marketplace"], listing_id=r["listing_id"], url=r["url"],
                     title=r["title"], keyword=keyword, render_mode="http",
                     price=r["price"], price_high=r["price_high"], currency=r["currency"],
                     seller=r["seller"], seller_location=r["seller_location"])
             for r in Catalogue(7).truth("http://127.0.0.1:8900") for keyword in r["keywords"]]
    store.save(sweep, items)
    backtest(store, None, loader.load(RULES / "acme.yaml"), apply=True)
    return store


def _candidate(tmp_path: Path) -> Path:
    # a stricter review stage and a laxer takedown, and one rule's points changed
    text = (RULES / "acme.yaml").read_text()
    for old, new in (("{name: review, min_score: 50}", "{name: review, min_score: 55}"),
                     ("{name: takedown, min_score: 80", "{name: takedown, min_score: 60")):
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "acme.yaml"
    path.write_text(text)
    for child in RULES.iterdir():  # the lists and reference photos the file names
        if child.name != "acme.yaml":
            (tmp_path / child.name).symlink_to(child)
    return path


def test_shards_give_the_report_of_one_plain_pass(store: Store, tmp_path: Path) -> None:
    current = loader.load(RULES / "acme.yaml")
    candidate = loader.load(_candidate(tmp_path))
    reports = [backtest(store, current, candidate, workers=n).as_dict() for n in (1, 2, 3)]
    for report in reports:
        report.pop("seconds")
    assert reports[0] == reports[1] == reports[2]
    report = reports[0]
    assert report["changes"] and report["listings"] > 500

    # the plain way: every listing by marketplace and listing id, judged afresh
    rows = list(store.listings_for(current.brand.keywords, brand="acme"))
    assert len(rows) == report["listings"]
    after = Counter(candidate.evaluate(r).stage or "none" for r in rows)
    before = Counter(r["_stage"] or "none" for r in rows)
    assert dict(after) == report["stages_after"] and dict(before) == report["stages_before"]
    first: dict[str, list[str]] = {}
    for r in rows:
        was, now = r["_stage"], candidate.evaluate(r).stage
        if was != now:
            kind = "newly_staged" if was is None else "unstaged" if now is None else \
                "restaged"
            first.setdefault(kind, []).append(f"{r['marketplace']}:{r['listing_id']}")
    assert {k: v[:EXAMPLES] for k, v in first.items()} == {
        k: [c["listing"] for c in v] for k, v in report["examples"].items()}
    assert {k: len(v) for k, v in first.items()} == report["changes"]


def test_a_shard_reads_its_own_run_of_rowids(store: Store) -> None:
    keywords = loader.load(RULES / "acme.yaml").brand.keywords
    whole = [(r["marketplace"], r["listing_id"]) for r in store.listings_for(keywords)]
    parts = [[(r["marketplace"], r["listing_id"]) for r in
              store.listings_for(keywords, shard=(k, 3))] for k in range(3)]
    assert all(parts) and sorted(k for p in parts for k in p) == sorted(whole)
    assert len({k for p in parts for k in p}) == len(whole)  # disjoint
    rowids = {(m, lid): rowid for rowid, m, lid in store.conn.execute(
        "select rowid, marketplace, listing_id from listings")}
    for part in parts:
        assert [rowids[k] for k in part] == sorted(rowids[k] for k in part)
    assert max(rowids[k] for k in parts[0]) < min(rowids[k] for k in parts[1])
    assert json.dumps(whole) == json.dumps(sorted(whole))  # unsharded: by key, as ever
