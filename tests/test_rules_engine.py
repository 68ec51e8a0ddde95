"""The rule engine on listings: matchers, prices, sellers, exceptions, stages, spans."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from crawler.rules import loader
from crawler.rules.engine import RuleSet
from fixtures.catalogue import Catalogue

RULES = Path(__file__).resolve().parent.parent / "rules"

HEAD = """\
brand:
  name: Acme
  keywords: [acme]
  currency: USD
  exchange_rates: {EUR: 1.08, GBP: 1.27}
  products:
    - {sku: PX2, name: Pulse X2, match: [pulse x2], msrp: {USD: 199, EUR: 189}}
  authorised_sellers:
    - {marketplace: bazaar, seller: acme-official}
    - MegaMart
lists:
  names: {match: fuzzy, terms: [{term: acme, deny: [acne]}]}
  plain: {match: plain, terms: [acme]}
  replica: {match: words, terms: ["1:1", aaa, super copy, 高仿]}
  shouty: {match: regex, terms: ["(a+)+$", "x{3,}"]}
  colours: {match: values, terms: [Red, Blue]}
stages:
  - {name: review, min_score: 50}
  - {name: takedown, min_score: 80}
"""


def ruleset(tmp_path: Path, rules: str, today: dt.date | None = None) -> RuleSet:
    path = tmp_path / "acme.yaml"
    path.write_text(HEAD + "rules:\n" + rules)
    return loader.load(path, today=today)


def rule(selections: str, condition: str, score: int = 60, extra: str = "") -> str:
    return (f"  - id: r\n    title: t\n    selections: {selections}\n"
            f"    condition: {condition}\n    score: {score}\n{extra}")


def outcome(rs: RuleSet, **listing: Any) -> str:
    listing.setdefault("marketplace", "bazaar")
    return rs.evaluate_rule("r", listing).outcome


@pytest.mark.parametrize(("title", "expected"), [
    ("Acme Pulse X2 1:1", "match"),
    ("Acme Pulse X2 AAA Quality", "match"),
    ("Acme Pulse X2 AAAA", "no_match"),  # whole words only
    ("Acme Pulse X2 super-copy", "no_match"),
    ("Acme Pulse X2 SUPER  COPY", "match"),
    ("跨境 Acme Pulse X2 高仿耳机", "match"),  # CJK terms need no word boundary
])
def test_words_are_whole_words(tmp_path: Path, title: str, expected: str) -> None:
    rs = ruleset(tmp_path, rule("{b: {list: names}, r: {list: replica}}", "b and r"))
    assert outcome(rs, title=title) == expected


@pytest.mark.parametrize(("title", "expected"), [
    ("Acmee Pulse", "match"), ("Akme Pulse", "match"), ("Acem Pulse", "match"),
    ("Аcme Pulse", "match"), ("4cme Pulse", "match"), ("A c m e Pulse", "match"),
    ("Acne Pulse", "no_match"),  # denied
    ("Ace Pulse", "no_match"),  # too short to be a misspelling
    ("Acmeee Pulse", "no_match"),  # two edits
])
def test_fuzzy_brand_names(tmp_path: Path, title: str, expected: str) -> None:
    rs = ruleset(tmp_path, rule("{b: {list: names}}", "b"))
    assert outcome(rs, title=title) == expected


def test_disguised_name_is_names_and_not_plain(tmp_path: Path) -> None:
    rs = ruleset(tmp_path, rule("{n: {list: names}, p: {list: plain}}", "n and not p"))
    assert outcome(rs, title="Acme Pulse") == "no_match"
    assert outcome(rs, title="A\u200bcme Pulse") == "match"


@pytest.mark.timeout(10)  # a backtracking engine would run for longer than the universe
def test_regex_cannot_hang(tmp_path: Path) -> None:
    rs = ruleset(tmp_path, rule("{s: {list: shouty}}", "s"))
    assert outcome(rs, title="a" * 50_000 + "!") == "no_match"
    assert outcome(rs, title="b" * 50_000 + "a") == "match"
    assert outcome(rs, title="Acme xxxx") == "match"


@pytest.mark.parametrize(("price", "currency", "market", "expected"), [
    ("79.00", "USD", "tradehub", "match"),  # < 40% of 199
    ("80.00", "USD", "tradehub", "no_match"),
    ("75.00", "EUR", "shopfront", "match"),  # < 40% of the EUR MSRP 189
    ("76.00", "EUR", "shopfront", "no_match"),
    ("62.00", "GBP", "megamart", "match"),  # 62 * 1.27 = 78.74 USD
    ("63.00", "GBP", "megamart", "no_match"),  # 80.01 USD
    ("10.00", "JPY", "tradehub", "no_match"),  # no rate: the field counts as missing
    (None, None, "tradehub", "no_match"),
])
def test_price_below_msrp_converts(tmp_path: Path, price: str | None, currency: str | None,
                                   market: str, expected: str) -> None:
    rs = ruleset(tmp_path, rule("{c: {price_below_msrp: 40%}}", "c"))
    assert outcome(rs, title="Acme Pulse X2", price=price, currency=currency,
                   marketplace=market) == expected
    assert outcome(rs, title="Acme headphones", price="1", currency="USD",
                   marketplace=market) == "no_match"  # no product named


def test_authorised_sellers_per_marketplace(tmp_path: Path) -> None:
    rs = ruleset(tmp_path, rule("{u: {field: seller, not_in: authorised_sellers}}", "u"))
    assert outcome(rs, title="x", seller="acme-official", marketplace="bazaar") == "no_match"
    assert outcome(rs, title="x", seller="ACME-Official", marketplace="bazaar") == "no_match"
    assert outcome(rs, title="x", seller="acme-official", marketplace="tradehub") == "match"
    assert outcome(rs, title="x", seller="MegaMart", marketplace="tradehub") == "no_match"
    assert outcome(rs, title="x", seller=None) == "no_match"  # missing: if_missing false


def test_missing_fields_have_a_defined_result(tmp_path: Path) -> None:
    rs = ruleset(tmp_path, rule(
        "{a: {field: seller_location, list: replica, if_missing: true}, "
        "b: {field: units_sold, gt: 100}, c: {field: description, exists: false}, "
        "d: {field: condition, in: colours}}", "a and not b and c and not d"))
    assert outcome(rs, title="x") == "match"
    assert outcome(rs, title="x", units_sold=500) == "no_match"
    assert outcome(rs, title="x", description="text") == "no_match"
    assert outcome(rs, title="x", condition=" red ") == "no_match"


def test_exceptions_suppress_until_they_expire(tmp_path: Path) -> None:
    extra = ("    exceptions:\n      - {name: ok-seller, reason: vetted by legal, "
             "where: {field: seller, terms: [goodshop]}, expires: 2026-12-31}\n")
    rules = rule("{b: {list: names}}", "b", extra=extra)
    before = ruleset(tmp_path, rules, today=dt.date(2026, 11, 22))
    after = ruleset(tmp_path, rules, today=dt.date(2027, 1, 1))
    listing = {"title": "Acme", "seller": "goodshop", "marketplace": "bazaar"}
    result = before.evaluate(listing)
    assert result.score == 0 and result.matched[0].suppressed_by == "ok-seller"
    assert result.matched[0].reason == "vetted by legal"
    assert after.evaluate(listing).score == 60


def test_scores_add_and_pick_the_stage(tmp_path: Path) -> None:
    rs = ruleset(tmp_path, rule("{b: {list: names}, r: {list: replica}}", "b",
                                extra="") .replace("score: 60", "score: {base: 50, add: {r: 40}}"))
    assert rs.evaluate({"title": "Acme"}).stage == "review"
    full = rs.evaluate({"title": "Acme 1:1"})
    assert (full.score, full.stage) == (90, "takedown")
    spans = full.as_dict()["matches"][0]["selections"]
    assert spans["r"] == [{"field": "title", "start": 5, "end": 8, "text": "1:1"}]
    assert rs.evaluate({"title": "nothing"}).stage is None


def test_deprecated_rules_do_not_run(tmp_path: Path) -> None:
    rs = ruleset(tmp_path, rule("{b: {list: names}}", "b").replace(
        "title: t\n", "title: t\n    status: deprecated\n"))
    assert rs.evaluate({"title": "Acme"}).score == 0


@pytest.mark.parametrize("brand", ["acme", "velora"])
def test_prefilter_never_changes_a_verdict(brand: str) -> None:
    """Only rules whose terms hit are evaluated; evaluating every rule must agree."""
    rs = loader.load(RULES / f"{brand}.yaml")
    for record in Catalogue(7).truth("http://x"):
        fast, full = rs.evaluate(record), rs.evaluate(record, full=True)
        assert (fast.score, fast.stage) == (full.score, full.stage), record["title"]
        assert json.dumps(fast.as_dict()) == json.dumps(full.as_dict())


@pytest.mark.parametrize("brand", ["acme", "velora"])
def test_demo_rule_sets_meet_the_targets(brand: str) -> None:
    from crawler.rules import scoring

    rs = loader.load(RULES / f"{brand}.yaml")
    # what text can tell: the hard counterfeits need photos and seller networks, which
    # a truth file lacks; a sweep scores those (tests/test_networks.py)
    records = [r for r in Catalogue(7).truth("http://x") if r["difficulty"] != "hard"]
    result = scoring.score(rs, records)
    assert result.listings == 720
    assert result.precision >= 0.95 and result.recall >= 0.90, result.as_dict()


@pytest.mark.parametrize(("title", "plain", "raw"), [
    ("Acme\u200b Jacket", "no_match", "match"),  # the plain fold turns it into a space
    ("Acme Jacket", "no_match", "no_match"),
    ("Jacket \ufeffAcme", "no_match", "match"),
])
def test_raw_regex_sees_what_the_folds_drop(tmp_path: Path, title: str, plain: str,
                                            raw: str) -> None:
    """Rough edge: a zero-width space right after a plainly written name could not be
    caught, since every fold (and so every regex) had already dropped it."""
    pattern = "'(?i)acme[\\x{200B}\\x{FEFF}]|[\\x{200B}\\x{FEFF}]acme'"
    folded = ruleset(tmp_path, rule(f"{{z: {{regex: {pattern}}}}}", "z"))
    assert outcome(folded, title=title) == plain
    rs = ruleset(tmp_path, rule(f"{{z: {{regex: {pattern}, match: raw}}}}", "z"))
    assert outcome(rs, title=title) == raw
    # a raw list is case-sensitive: it sees the text exactly as written
    path = tmp_path / "acme.yaml"
    path.write_text(HEAD.replace("lists:\n", "lists:\n  zw: {match: raw, terms: "
                                 "['Acme\\x{200B}']}\n") + "rules:\n" +
                    rule("{z: {list: zw}}", "z"))
    raw_list = loader.load(path)
    assert raw_list.evaluate_rule("r", {"title": "Acme\u200b Jacket",
                                        "marketplace": "bazaar"}).outcome == "match"
    assert raw_list.evaluate_rule("r", {"title": "acme\u200b Jacket",
                                        "marketplace": "bazaar"}).outcome == "no_match"


def test_match_raw_goes_with_a_regex_or_terms_only(tmp_path: Path) -> None:
    from crawler.exceptions import ConfigError

    with pytest.raises(ConfigError, match="'match' goes with inline 'terms'"):
        ruleset(tmp_path, rule("{z: {list: names, match: raw}}", "z"))


def test_shipped_disguised_name_rules_catch_a_zero_width_after_the_name() -> None:
    for brand, title in (("acme", "Acme\u200b Trailpack 30L Hiking Backpack"),
                         ("velora", "Velora\u200b Capri Silk Scarf")):
        rs = loader.load(RULES / f"{brand}.yaml")
        result = rs.evaluate({"title": title, "marketplace": "bazaar"})
        assert f"{brand}-disguised-name" in {m.rule for m in result.matched}
        plain = rs.evaluate({"title": title.replace("\u200b", ""), "marketplace": "bazaar"})
        assert f"{brand}-disguised-name" not in {m.rule for m in plain.matched}
