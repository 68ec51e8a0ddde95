"""The judging pipeline: the rule set named by the settings, compiled once per process,
judges each stored batch exactly as judging the stored rows would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from crawler.exceptions import RuleSetChanged
from crawler.items import Listing
from crawler.pipelines.judge import JudgePipeline, compiled
from crawler.pipelines.store import StorePipeline
from crawler.rules.backtest import row_of
from crawler.rules.loader import load
from crawler.settings import DEFAULTS
from crawler.store import Store

RULES = """
brand:
  name: Zeta
  keywords: [zeta]
  currency: USD
lists:
  zeta_names: {match: words, terms: [zeta]}
  fake_words: {match: words, terms: [replica, fake]}
rules:
  - id: described-fake
    title: The description calls it a fake
    selections:
      brand: {list: zeta_names}
      fake: {field: description, list: fake_words}
    condition: brand and fake
    score: 60
  - id: networked
    title: The seller's network has cases
    selections:
      brand: {list: zeta_names}
      network: {seller: {network_cases: 3}}
    condition: brand and network
    score: 30
stages:
  - {name: review, min_score: 50}
  - {name: takedown, min_score: 80}
"""


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    path = tmp_path / "zeta.yaml"
    path.write_text(RULES)
    return path


def settings(db: Path, sweep_id: int, rules: Path | None) -> dict[str, object]:
    s: dict[str, object] = DEFAULTS | {"BRANDSWEEP_DB": str(db),
                                       "BRANDSWEEP_SWEEP_ID": sweep_id,
                                       "BRANDSWEEP_FLUSH_ITEMS": 1000}
    if rules is not None:
        s |= {"BRANDSWEEP_RULES_PATH": str(rules),
              "BRANDSWEEP_RULES_VERSION": load(rules).version}
    return s


def sweep(db: Path) -> int:
    store = Store(db)
    store.migrate()
    return store.start_sweep(kind="sweep", brand="zeta", campaign=None, marketplaces=["m"],
                             keywords=["zeta"], max_pages=1)


def listing(lid: str, title: str, description: str | None = None,
            seller: str = "s1") -> Listing:
    return Listing(marketplace="m", listing_id=lid, url=f"http://m.test/{lid}", title=title,
                   keyword="zeta", render_mode="http", description=description,
                   seller=seller, price="10.00", currency="USD")


def test_without_a_rule_set_or_a_store_it_is_not_configured(tmp_path: Path,
                                                             rules: Path) -> None:
    with pytest.raises(NotConfigured, match="no rule set"):
        JudgePipeline.from_crawler(get_crawler(settings_dict=DEFAULTS))
    with pytest.raises(NotConfigured, match="no store"):
        JudgePipeline.from_crawler(get_crawler(settings_dict=DEFAULTS | {
            "BRANDSWEEP_RULES_PATH": str(rules),
            "BRANDSWEEP_RULES_VERSION": load(rules).version}))


def test_the_rule_set_is_compiled_once_per_path_and_version(tmp_path: Path,
                                                            rules: Path) -> None:
    db = tmp_path / "s.db"
    sweep_id = sweep(db)
    first = JudgePipeline.from_crawler(get_crawler(settings_dict=settings(db, sweep_id, rules)))
    second = JudgePipeline.from_crawler(get_crawler(settings_dict=settings(db, sweep_id,
                                                                           rules)))
    assert first.ruleset is second.ruleset
    assert first.ruleset.path == str(rules)


def test_a_rule_file_changed_since_the_sweep_started_is_refused(rules: Path) -> None:
    version = load(rules).version
    rules.write_text(RULES.replace("score: 60", "score: 70"))
    with pytest.raises(RuleSetChanged, match="changed during the sweep") as exc:
        compiled(str(rules), version)
    assert exc.value.exit_code == 2 and str(rules) in str(exc.value)


def test_verdicts_are_those_of_the_stored_rows(tmp_path: Path, rules: Path) -> None:
    db = tmp_path / "s.db"
    sweep_id = sweep(db)
    store = Store(db)
    # facts an earlier sweep found: this seller's network has cases
    store.save_facts("zeta", {("m", "2"): json.dumps({"network": "n", "network_cases": 4})})
    # an earlier sighting stored a description saying "replica"
    store.save(sweep_id, [listing("1", "Zeta watch", "a replica, cheap")])

    crawler = get_crawler(settings_dict=settings(db, sweep_id, rules))
    storing = StorePipeline.from_crawler(crawler)
    judging = JudgePipeline.from_crawler(crawler)
    for item in [listing("1", "Zeta watch"),  # seen again without a description
                 listing("2", "Zeta band"), listing("3", "Zeta fake", "plain text"),
                 listing("3", "Zeta case"),  # the same listing twice in one batch
                 listing("4", "Other", "a fake")]:
        storing.process_item(item)
    storing.close_spider()
    assert judging.evaluated == 4
    assert crawler.stats is not None
    assert crawler.stats.get_value("brandsweep/evaluated") == 4

    rs = judging.ruleset
    keys = [("m", "1"), ("m", "2"), ("m", "3"), ("m", "4")]
    # what judging the rows as the store holds them gives (the way before the pipeline)
    expected = sorted(row_of(row, rs.evaluate(row)) for row in
                      store.listings_for([], keys=keys, brand="zeta"))
    got = sorted(tuple(r.values()) for r in store.db.query(
        "select marketplace, listing_id, version, score, stage, matches from evaluations "
        "where brand = 'zeta'"))
    assert got == [tuple(e) for e in expected]
    stages = {lid: stage for _m, lid, _v, _s, stage, _x in got}
    # the stored description and the network facts counted
    assert stages["1"] == "review" and dict((r[1], r[3]) for r in got)["2"] == 30
    assert stages["3"] is None  # "fake" was in the batch's earlier sighting's title only
    assert stages["4"] is None


def test_a_batch_is_judged_from_what_was_written_not_read_back(tmp_path: Path,
                                                               rules: Path) -> None:
    db = tmp_path / "s.db"
    sweep_id = sweep(db)
    crawler = get_crawler(settings_dict=settings(db, sweep_id, rules))
    storing = StorePipeline.from_crawler(crawler)
    judging = JudgePipeline.from_crawler(crawler)  # signals hold their receivers weakly
    statements: list[str] = []
    storing.store.db.conn.set_trace_callback(statements.append)
    storing.process_item(listing("9", "Zeta replica", "a fake"))
    storing.close_spider()
    reads = [s for s in statements if s.lstrip().lower().startswith(("select", "with"))]
    # the listing itself is never selected again: only the description it lacked (none
    # here) and the facts the store has for it
    assert not any("from listings l left join" in s for s in reads), reads
    assert not any("description from listings" in s for s in reads), reads
    assert any("listing_facts" in s for s in reads), statements
    assert judging.evaluated == 1
