"""Cases and drafting on a real SQLite store: grouping per program and seller, splits at
the program's limit, nothing drafted twice, review decisions and the audit trail."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest

from crawler.cases import lifecycle as cases
from crawler.exceptions import CaseStateError, NoticeFieldMissing
from crawler.items import Listing
from crawler.notices import drafting, mark_submitted, notices
from crawler.notices.programs import PROGRAMS
from crawler.profiles import loading as profiles
from crawler.profiles.model import MarketplaceProfile
from crawler.rules import files as ruleset
from crawler.rules import loader
from crawler.rules.backtest import row_of
from crawler.store import Store


def stock(store: Store, market: str, seller: str, n: int, title: str = "Acme Pulse X2 "
          "Wireless Headphones Replica", start: int = 0) -> None:
    """``n`` replica listings by one seller, judged by the acme rule set, with cases."""
    sweep = store.start_sweep(kind="sweep", brand="acme", campaign=None,
                              marketplaces=[market], keywords=["acme"], max_pages=1)
    store.save(sweep, [Listing(market, f"{market}-{i}", f"http://x/{market}/{i}",
                               f"{title} {i}", "acme", "http", price="20.00",
                               currency="USD", seller=seller, seller_location="Putian, China")
                       for i in range(start, start + n)])
    rs = loader.load(ruleset.brand_file("acme"))
    rows = [row_of(r, rs.evaluate(r)) for r in store.listings_for(["acme"], brand="acme")]
    store.save_evaluations("acme", rows, sweep)
    cases.sync(store, "acme", "tester", sweep)


def fake_evidence(store: Store) -> None:
    folder = store.path.with_name(store.path.stem + "-evidence")
    for (case_id,) in store.db.conn.execute(
            "select id from cases where id not in (select case_id from evidence)").fetchall():
        (folder / f"case-{case_id}").mkdir(parents=True)
        digests = {}
        for name in ("screenshot.png", "page.html"):
            data = f"{name} of case {case_id}".encode()
            (folder / f"case-{case_id}" / name).write_bytes(data)
            digests[name] = hashlib.sha256(data).hexdigest()
        with store.db.conn:
            store.db.conn.execute(
                "insert into evidence (case_id, url, captured_at, screenshot, "
                "screenshot_sha256, html, html_sha256) values (?, 'u', '2026-11-23T00:00:00Z', "
                "?, ?, ?, ?)", [case_id, f"case-{case_id}/screenshot.png",
                                digests["screenshot.png"], f"case-{case_id}/page.html",
                                digests["page.html"]])


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "store.db")
    s.migrate()
    return s


@pytest.fixture(scope="module")
def acme() -> Any:
    return loader.load(ruleset.brand_file("acme"))


@pytest.fixture(scope="module")
def markets() -> dict[str, MarketplaceProfile]:
    return profiles.load_profiles()


def test_drafts_split_at_the_program_limit_and_never_twice(store: Store, acme: Any,
                                                          markets: Any) -> None:
    stock(store, "megamart", "Replica King", 120)
    stock(store, "megamart", "Other Seller", 3, start=500)
    assert len(cases.cases(store, "acme", stage="takedown")) == 123
    assert drafting.draft(store, acme, markets, "tester").waiting_evidence == 123
    fake_evidence(store)
    first = drafting.draft(store, acme, markets, "tester")
    rows = notices(store, "acme")
    sizes = sorted((n["seller"], n["items"], n["part"], n["parts"]) for n in rows)
    assert sizes == [("Other Seller", 3, 1, 1), ("Replica King", 20, 3, 3),
                     ("Replica King", 50, 1, 3), ("Replica King", 50, 2, 3)]
    assert {n["program"] for n in rows} == {"amazon"} and PROGRAMS["amazon"].limit == 50
    assert first.items == 123 and len(first.notices) == 4
    assert {c["status"] for c in cases.cases(store, "acme")} == {"noticed"}
    again = drafting.draft(store, acme, markets, "tester")
    assert (again.notices, again.items) == ([], 0)
    stock(store, "megamart", "Replica King", 2, start=900)  # only what is new
    fake_evidence(store)
    assert drafting.draft(store, acme, markets, "tester").items == 2


def test_review_stage_waits_for_a_person(store: Store, acme: Any, markets: Any) -> None:
    # a careful counterfeit: fair price and clean words, staged for review only
    stock(store, "bazaar", "fashion_zone_77", 2, title="Acme Trailpack 30L Hiking Backpack")
    store.db.conn.execute("update listings set price = '95.00'")
    store.db.conn.commit()
    rs = acme
    rows = [row_of(r, rs.evaluate(r)) for r in store.listings_for(["acme"], brand="acme")]
    store.save_evaluations("acme", rows)
    cases.sync(store, "acme", "tester")
    fake_evidence(store)
    found = cases.cases(store, "acme")
    assert {c["stage"] for c in found} == {"review"}
    assert drafting.draft(store, acme, markets, "tester").items == 0
    first, second = (c["id"] for c in found)
    cases.transition(store, [first], "confirm", "dana", "seller known for fakes")
    cases.transition(store, [second], "dismiss", "dana", "genuine grey import")
    drafted = drafting.draft(store, acme, markets, "tester")
    assert drafted.items == 1 and drafted.by_program == {"ebay_vero": 1}
    with pytest.raises(CaseStateError, match="is dismissed: it cannot be confirmed"):
        cases.transition(store, [second], "confirm", "dana", "oops")
    with pytest.raises(CaseStateError, match=f"case {first} is noticed"):
        cases.transition(store, [second, first], "reopen", "dana", "all or none")
    assert cases.case(store, second)["status"] == "dismissed"
    history = cases.case(store, first)["events"]
    assert [(e["action"], e["by"]) for e in history] == [
        ("open", "tester"), ("restage", "tester"), ("confirm", "dana"), ("notice", "tester")]
    assert history[1]["reason"].startswith("stage takedown -> review")
    assert history[2]["reason"] == "seller known for fakes"
    mark_submitted(store, drafted.notices, "dana")
    assert cases.case(store, first)["status"] == "submitted"


def test_a_missing_identity_field_names_the_field_and_the_file(
        store: Store, markets: Any, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(ruleset.rules_dir(), rules)
    text = (rules / "acme.yaml").read_text()
    (rules / "acme.yaml").write_text(text.replace('    phone: "+1 503 555 0142"\n', ""))
    rs = loader.load(rules / "acme.yaml")
    stock(store, "megamart", "Replica King", 2)
    fake_evidence(store)
    with pytest.raises(NoticeFieldMissing) as err:
        drafting.draft(store, rs, markets, "tester")
    assert str(err.value).startswith(f"{rules / 'acme.yaml'}: brand.rights_owner.phone is "
                                     "required by amazon notices")
    assert notices(store) == []  # nothing half-drafted
    assert {c["status"] for c in cases.cases(store)} == {"open"}


def test_new_takedowns_join_the_sellers_unsent_draft(store: Store, acme: Any,
                                                      markets: Any) -> None:
    """Rough edge: new takedowns for a seller with an unsent draft became a second
    one-item notice. An unsent draft is still a draft; only submitted ones are frozen."""
    stock(store, "megamart", "Replica King", 3)
    fake_evidence(store)
    first = drafting.draft(store, acme, markets, "tester")
    assert len(first.notices) == 1 and first.items == 3
    draft_id = first.notices[0]
    stock(store, "megamart", "Replica King", 2, start=100)
    fake_evidence(store)
    joined = drafting.draft(store, acme, markets, "tester")
    assert joined.notices == [] and joined.joined == {draft_id: 2} and joined.items == 2
    rows = notices(store, "acme")
    assert [(n["id"], n["items"]) for n in rows] == [(draft_id, 5)]
    positions = [r[0] for r in store.db.conn.execute(
        "select position from notice_items where notice_id = ? order by position",
        [draft_id])]
    assert positions == [1, 2, 3, 4, 5]
    added = store.db.conn.execute(
        "select count(*) from case_events where action = 'notice' and reason like "
        "?", [f"added to draft notice {draft_id} %"]).fetchone()[0]
    assert added == 2
    # up to the program's limit (amazon: 50); the rest starts a new notice
    stock(store, "megamart", "Replica King", 50, start=200)
    fake_evidence(store)
    overflow = drafting.draft(store, acme, markets, "tester")
    assert overflow.joined == {draft_id: 45} and len(overflow.notices) == 1
    assert sorted(n["items"] for n in notices(store, "acme")) == [5, 50]
    # a submitted notice is frozen: new items start a new draft
    mark_submitted(store, [draft_id], "dana")
    stock(store, "megamart", "Replica King", 1, start=400)
    fake_evidence(store)
    after = drafting.draft(store, acme, markets, "tester")
    assert draft_id not in after.joined
    assert after.items == 1
