"""The demo store the workbench tests share, built through the library as a sweep builds
it (listings, the acme rule set's verdicts, cases, evidence, a relisting, a draft
notice), and the store queries and ``cases.undo`` the workbench relies on."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from crawler.cases import camera, evidence
from crawler.cases import lifecycle as cases
from crawler.exceptions import CaseStateError
from crawler.items import Listing
from crawler.notices import drafting
from crawler.profiles import loading as profiles
from crawler.rules import files as ruleset
from crawler.rules import loader
from crawler.rules.backtest import row_of
from crawler.store import Store, fts_words

# listing text a counterfeiter controls: every one must show as text, none may run
HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "'><iframe src=javascript:alert(1)></iframe>",
    "{{7*7}} ${7*7} {% if 1 %}x{% endif %}",
    "javascript:alert(document.cookie)",
    '<a href="javascript:alert(1)">click me</a>',
    "</title></textarea><script>alert(1)</script>",
    "<style>body{display:none}</style>",
    "&lt;b&gt; &amp;amp; entities",
    "\u202egnp.exe right-to-left",
]
BULK_SELLER = "bulkco <b>outlet</b>"
CASES = 50
SNAPSHOT = b"<html><body><h1>listing</h1><script>alert('snapshot')</script></body></html>"


def png() -> bytes:
    """A real 2x2 PNG, so the screenshot renders as an image."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _listing(i: int, title: str, seller: str, price: str, market: str = "bazaar",
             description: str | None = None) -> Listing:
    return Listing(marketplace=market, listing_id=f"L{i:04d}",
                   url=f"http://127.0.0.1:9/{market}/item/L{i:04d}", title=title,
                   keyword="acme", render_mode="http", price=price, currency="USD",
                   description=description or f"{title} (best replica of acme)",
                   seller=seller, seller_location="Shenzhen, CN",
                   image_urls=[f"http://127.0.0.1:9/img/{i}.jpg"])


def _judge(store: Store, rs: object, keys: list[tuple[str, str]], sweep: int) -> None:
    rows = [row_of(r, rs.evaluate(r))  # type: ignore[attr-defined]
            for r in store.listings_for([], keys=keys, brand="acme")]
    store.save_evaluations("acme", rows, sweep)


def demo_store(path: Path, n: int = CASES) -> Store:
    """``n`` open acme cases (hostile titles first, one seller with five cases), a few
    unstaged listings, evidence for the first cases, a relisting and a draft notice in
    closed cases that do not count towards ``n``."""
    rs = loader.load(ruleset.brand_file("acme"))
    store = Store(path)
    store.migrate()
    sweep = store.start_sweep(kind="sweep", brand="acme", campaign=None,
                              marketplaces=["bazaar", "megamart"], keywords=["acme"],
                              max_pages=1)
    items = []
    for i in range(n):
        if i < len(HOSTILE):
            title = f"{HOSTILE[i]} acme pulse x2 replica"
            seller = f"seller-{i % 4}"
        elif i < len(HOSTILE) + 5:
            title = f"ACME Pulse X2 Wireless Headphones replica lot {i}"
            seller = BULK_SELLER
        else:
            title = f"acme pulse buds pro earbuds copy {i}"
            seller = f"seller-{i % 6}"
        items.append(_listing(i, title, seller, str(19 + i % 30),
                              "megamart" if i % 7 == 3 else "bazaar",
                              description=f"{HOSTILE[i % len(HOSTILE)]} best replica of acme"))
    # genuine-looking listings the rule set leaves unstaged
    items += [_listing(900 + i, f"Acme Trailpack 30L Hiking Backpack {i}", "acme-official",
                       "129.00") for i in range(5)]
    # the listing that will be removed, then come back
    items.append(_listing(950, "Acme Vector Smartwatch replica black edition", "phoenix",
                          "39"))
    store.save(sweep, items)
    _judge(store, rs, [(x.marketplace, x.listing_id) for x in items], sweep)
    opened = cases.sync(store, "acme", "brandsweep", sweep).opened
    assert len(opened) == n + 1, "every demo listing but the genuine ones is staged"
    by_listing = {r["listing_id"]: r["id"] for r in cases.cases(store, "acme")}
    gone = by_listing["L0950"]
    for action in ("notice", "submit", "removed"):
        cases.transition(store, [gone], action, "dana", f"demo: {action}")
    store.finish_sweep(sweep, "done", {})

    later = store.start_sweep(kind="sweep", brand="acme", campaign=None,
                              marketplaces=["bazaar"], keywords=["acme"], max_pages=1)
    back = [_listing(951, "Acme Vector Smartwatch replica black edition!", "phoenix", "41"),
            _listing(960, "ACME Volt 20000mAh power bank replica", "drafted-seller", "9")]
    store.save(later, back)
    _judge(store, rs, [(x.marketplace, x.listing_id) for x in back], later)
    cases.sync(store, "acme", "brandsweep", later)
    assert cases.link_relistings(store, "acme", "brandsweep", later)
    # one confirmed case with evidence becomes a draft notice (out of the open queue),
    # and the relisting is dismissed, so that exactly ``n`` cases are open
    by_listing = {r["listing_id"]: r["id"] for r in cases.cases(store, "acme")}
    cases.transition(store, [by_listing["L0960"]], "confirm", "dana", "demo")
    _evidence(store, by_listing["L0960"])
    drafted = drafting.draft(store, rs, profiles.load_profiles(), "dana", later)
    assert drafted.notices
    cases.transition(store, [by_listing["L0951"]], "dismiss", "dana", "demo: seen")
    # evidence after drafting: takedown cases with evidence draft by themselves
    for case_id in open_ids(store)[:8]:
        _evidence(store, case_id)
    store.finish_sweep(later, "done", {})
    return store


def _evidence(store: Store, case_id: int) -> None:
    """Evidence as a capture writes it (files, hashes, row and audit event)."""
    c = cases.case(store, case_id)
    x = c["listing"]
    job = camera.Job(case_id, x["marketplace"], x["url"], None, x["title"], x["price"],
                        x["currency"])
    shot = camera.Shot(job, 200, x["url"], png(), SNAPSHOT, None, None,
                       "2026-01-01T00:00:00Z")
    hashes = evidence._write_files(evidence.folder(store.path), shot)
    evidence._save(store, shot, hashes, "brandsweep", None)


def open_ids(store: Store) -> list[int]:
    return [r["id"] for r in store.case_queue(limit=1000)]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return demo_store(tmp_path / "demo.db")


def test_demo_store_has_what_the_workbench_shows(store: Store) -> None:
    assert len(open_ids(store)) == CASES
    assert store.case_counts() == {"takedown": CASES}
    relisting = [r for r in store.case_queue(status=None, limit=1000) if r["relisted_from"]]
    assert len(relisting) == 1
    assert store.db.execute("select count(*) from evidence").fetchone()[0] == 9


def test_queue_orders_by_score_and_filters(store: Store) -> None:
    rows = store.case_queue(limit=1000)
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    bulk = store.case_queue(seller=BULK_SELLER)
    assert len(bulk) == 5 and {r["seller"] for r in bulk} == {BULK_SELLER}
    assert store.case_counts(seller=BULK_SELLER) == {"takedown": 5}
    assert {r["marketplace"] for r in store.case_queue(marketplace="megamart")} == \
        {"megamart"}
    assert store.case_queue(status="dismissed")[0]["listing_id"] == "L0951"
    assert store.case_facets()["marketplace"] == ["bazaar", "megamart"]


def test_listings_with_verdicts_searches_every_listing(store: Store) -> None:
    every = store.listings_with_verdicts()
    assert len(every) == CASES + 5 + 3
    unstaged = store.listings_with_verdicts(unstaged=True)
    assert {r["seller"] for r in unstaged} == {"acme-official"}
    assert all(r["case_id"] is None for r in unstaged)
    found = store.listings_with_verdicts(search="trailpack hiking")
    assert len(found) == 5
    # FTS syntax typed by a user is searched for as words, never an error
    assert store.listings_with_verdicts(search='"unbalanced OR * NEAR(') == []
    assert fts_words('a "b" c') == '"a" """b""" "c"'
    assert store.listings_with_verdicts(stage="takedown", marketplace="megamart")
    both = store.listings_with_verdicts(search="replica", brand="acme",
                                        marketplace="megamart", stage="takedown")
    assert both and {(r["marketplace"], r["brand"], r["stage"]) for r in both} == \
        {("megamart", "acme", "takedown")}


def test_undo_takes_back_decisions_one_by_one(store: Store) -> None:
    first = open_ids(store)[0]
    cases.transition(store, [first], "confirm", "ana", "ok")
    cases.transition(store, [first], "dismiss", "ana", "no, genuine")
    assert cases.undo(store, [first], "ana") == [first]
    assert cases.case(store, first)["status"] == "confirmed"
    cases.undo(store, [first], "ana")
    assert cases.case(store, first)["status"] == "open"
    with pytest.raises(CaseStateError):
        cases.undo(store, [first], "ana")  # nothing left: the open event is no decision
    events = [(e["action"], e["from_status"], e["to_status"], e["by"])
              for e in cases.case(store, first)["events"]][-4:]
    assert events == [("confirm", "open", "confirmed", "ana"),
                      ("dismiss", "confirmed", "dismissed", "ana"),
                      ("undo", "dismissed", "confirmed", "ana"),
                      ("undo", "confirmed", "open", "ana")]


def test_undo_is_all_or_none(store: Store) -> None:
    a, b = open_ids(store)[:2]
    cases.transition(store, [a], "confirm", "ana", "ok")
    before = store.db.execute("select count(*) from case_events").fetchone()[0]
    with pytest.raises(CaseStateError):
        cases.undo(store, [a, b], "ana")
    assert cases.case(store, a)["status"] == "confirmed"
    assert store.db.execute("select count(*) from case_events").fetchone()[0] == before


def test_undo_stops_at_a_notice(store: Store) -> None:
    drafted = store.db.execute("select case_id from notice_items").fetchone()[0]
    with pytest.raises(CaseStateError):
        cases.undo(store, [drafted], "ana")
