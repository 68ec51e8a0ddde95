"""Seller networks and the photo and network facts the rules read, on the hard fixture
world loaded into a real store (real photos, real hashes, the shipped rule sets)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crawler.cases import networks
from crawler.images.hashing import hash_bytes
from crawler.items import Listing
from crawler.rules import loader
from crawler.store import Store
from fixtures import images
from fixtures.catalogue import Catalogue

RULES = Path(__file__).resolve().parent.parent / "rules"
BASE = "http://127.0.0.1:9"


def load_world(store: Store, catalogue: Catalogue, brand: str) -> None:
    """The brand's listings as a sweep stores them, and their first photo."""
    rs = loader.load(RULES / f"{brand}.yaml")
    words = set(rs.brand.keywords)
    sweep = store.start_sweep(kind="sweep", brand=brand, campaign=None, marketplaces=[],
                              keywords=sorted(words), max_pages=0)
    items, photos = [], {}
    for x in catalogue.listings:
        for keyword in catalogue.keywords_for(x):
            if keyword in words:
                items.append(Listing(
                    x.marketplace, x.listing_id, BASE + x.path, x.title, keyword, "http",
                    price=str(x.price), currency=x.currency, seller=x.seller,
                    seller_location=x.seller_location, description=x.description,
                    image_urls=[BASE + x.image_path]))
                photos[x.marketplace, x.listing_id] = x.image
    store.save(sweep, items)
    for (market, lid), image_id in photos.items():
        data = images.photo(image_id)
        sha = hashlib.sha256(data).hexdigest()
        store.save_image({"sha256": sha, "url": image_id, "content_type": None, "width": 0,
                          "height": 0, "bytes": len(data), "file": sha, "thumbnail": sha,
                          "fetched_at": None}, hash_bytes(data).rows())
        store.link_image(market, lid, 0, image_id, sha, "ok")


@pytest.fixture(scope="module", params=["acme", "velora"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[str, Store, Catalogue, networks.Refreshed]]:
    brand = request.param
    store = Store(tmp_path_factory.mktemp(brand) / "store.db")
    store.migrate()
    catalogue = Catalogue(7, hard=True)
    load_world(store, catalogue, brand)
    done = networks.refresh(store, loader.load(RULES / f"{brand}.yaml"))
    yield brand, store, catalogue, done


def test_contacts_are_found_and_normalised() -> None:
    text = ("Questions? WeChat: Linda_Trade4630. Or WhatsApp +86 138 1234 5678, "
            "e-mail Sales.Mia@Mailbox.example; model 20000mAh, SKU 12-34")
    assert networks.contacts(text) == {"id:linda_trade4630", "phone:8613812345678",
                                       "email:sales.mia@mailbox.example"}
    assert networks.contacts("Brand new with box. Fast shipping worldwide.") == set()


def test_sellers_cluster_into_the_truths_networks(
        world: tuple[str, Store, Catalogue, networks.Refreshed]) -> None:
    brand, store, catalogue, done = world
    truth: dict[tuple[str, str], Counter[str | None]] = {}
    for x in catalogue.listings:
        if x.brand in (brand, None):
            truth.setdefault((x.marketplace, x.seller), Counter())[x.seller_network] += 1
    got = {(m, s): n for m, s, n in store.db.conn.execute(
        "select marketplace, seller, network from seller_networks where brand = ?", [brand])}
    real = {k: truth[k].most_common(1)[0][0] for k in got}
    sellers = sorted(got)
    both = predicted = actual = 0
    for i, a in enumerate(sellers):
        for b in sellers[i + 1:]:
            same_got, same_real = got[a] == got[b], real[a] is not None and real[a] == real[b]
            predicted += same_got
            actual += same_real
            both += same_got and same_real
    precision, recall = both / predicted, both / actual
    print(f"{brand}: {len(sellers)} sellers, {done.networks} networks; pairwise precision "
          f"{precision:.3f} recall {recall:.3f}")
    assert precision >= 0.95 and recall >= 0.9


def test_photo_and_network_rules_stage_the_hard_counterfeits(
        world: tuple[str, Store, Catalogue, networks.Refreshed]) -> None:
    brand, store, catalogue, _done = world
    rows = store.db.conn.execute("select marketplace, listing_id, stage from evaluations "
                                 "where brand = ?", [brand]).fetchall()
    assert len(rows) == 832  # 720 listings of the default world, 112 hard counterfeits
    counts: Counter[str] = Counter()
    for market, lid, stage in rows:
        x = catalogue.by_id[market, lid]
        fake = x.label == "counterfeit" and x.brand == brand
        counts[f"{'fake' if fake else 'real'}:{stage or 'none'}"] += 1
        if x.difficulty == "hard":
            counts[f"hard:{'staged' if stage else 'missed'}"] += 1
    fakes = sum(v for k, v in counts.items() if k.startswith("fake:"))
    takedown = counts["fake:takedown"] / (counts["fake:takedown"] + counts["real:takedown"])
    recall = 1 - counts["fake:none"] / fakes
    hard = counts["hard:staged"] / (counts["hard:staged"] + counts["hard:missed"])
    print(f"{brand}: hard counterfeits staged {hard:.3f}, takedown precision "
          f"{takedown:.3f}, recall {recall:.3f}")
    assert hard >= 0.9 and takedown >= 0.95 and recall >= 0.95


def test_refresh_is_repeatable(world: tuple[str, Store, Catalogue, networks.Refreshed]
                               ) -> None:
    brand, store, _catalogue, _done = world
    before = store.db.conn.execute("select marketplace, listing_id, stage, score from "
                                   "evaluations where brand = ? order by 1, 2",
                                   [brand]).fetchall()
    again = networks.refresh(store, loader.load(RULES / f"{brand}.yaml"))
    assert again.restaged == 0
    assert store.db.conn.execute("select marketplace, listing_id, stage, score from "
                                 "evaluations where brand = ? order by 1, 2",
                                 [brand]).fetchall() == before


def test_storefront_notices_for_networks_over_the_threshold_once(
        world: tuple[str, Store, Catalogue, networks.Refreshed]) -> None:
    from crawler.cases import lifecycle as cases
    from crawler.notices import drafting
    from crawler.profiles.loading import load_profiles

    brand, store, _catalogue, _done = world
    rs = loader.load(RULES / f"{brand}.yaml")
    cases.sync(store, brand, "test")
    profiles = load_profiles()
    drafted = drafting.draft_storefronts(store, rs, profiles, "test")
    rows = store.db.conn.execute(
        "select program, marketplace, storefront, cases, sellers from storefront_notices "
        "where brand = ?", [brand]).fetchall()
    assert drafted and len(rows) == len(drafted)
    assert {r[0] for r in rows} <= {"alibaba_ipp", "amazon"}
    assert {r[1] for r in rows} <= {"tradehub", "megamart"}
    assert all(r[3] >= 5 for r in rows)
    assert any(len(json.loads(r[4])) > 1 for r in rows)  # a network, several accounts
    assert drafting.draft_storefronts(store, rs, profiles, "test") == []  # never twice
    assert store.db.conn.execute("select count(*) from storefront_notices").fetchone()[0] \
        == len(rows)


def test_storefront_notices_need_the_programs_fields(
        world: tuple[str, Store, Catalogue, networks.Refreshed], tmp_path: Path) -> None:
    import shutil

    from crawler.exceptions import NoticeFieldMissing
    from crawler.notices import drafting
    from crawler.profiles.loading import load_profiles

    brand, store, _catalogue, _done = world
    shutil.copytree(RULES, tmp_path, dirs_exist_ok=True)
    path = tmp_path / f"{brand}.yaml"
    text = path.read_text()
    path.write_text(text.replace("  min_cases: 5", "  min_cases: 1").replace(
        "    company: ", "    #company: ", 1))
    store.db.conn.execute("delete from storefront_notices")
    with pytest.raises(NoticeFieldMissing, match=r"rights_owner\.company"):
        drafting.draft_storefronts(store, loader.load(path), load_profiles(), "test")


def test_the_report_has_a_section_per_network(
        world: tuple[str, Store, Catalogue, networks.Refreshed], tmp_path: Path) -> None:
    from crawler.reports import data, render

    _brand, store, _catalogue, done = world
    sweep = store.db.conn.execute("select max(id) from sweeps").fetchone()[0]
    store.finish_sweep(sweep, "ok", {})
    report = data.gather(store, data.last_sweep(store))
    shown = report["networks"]
    assert 0 < len(shown) <= min(done.networks, data.NETWORKS)
    assert all(len(n["members"]) > 1 and n["photos"] for n in shown)
    thumbs = tmp_path / "thumbs"
    thumbs.mkdir()
    first = shown[0]["photos"][0]
    (tmp_path / first).write_bytes(b"\xff\xd8jpeg")
    page = render.render(report, "html", None, tmp_path)
    assert page.count('<section class="network"') == len(shown)
    assert shown[0]["members"][0] in page and "data:image/jpeg;base64," in page


def test_a_sweep_drafts_storefront_notices_and_the_next_sweep_none(tmp_path: Path) -> None:
    import sqlite3

    from fixtures.server import FixtureServer
    from tests.test_sweep import brandsweep

    db = tmp_path / "store.db"
    args = ("sweep", "--brand", "velora", "--marketplace", "megamart", "--db", str(db),
            "--json", "--no-evidence")
    with FixtureServer(port=0, seed=7, hard=True) as server:
        first = brandsweep(server, *args)
        assert first.returncode == 0, first.stderr
        summary = json.loads(first.stdout)
        assert summary["networks"]["photos"] > 0 and summary["networks"]["networks"] > 0
        drafted = summary["cases"]["storefront_notices_new"]
        assert drafted > 0
        again = brandsweep(server, *args)
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["cases"]["storefront_notices_new"] == 0
    con = sqlite3.connect(db)
    assert con.execute("select count(*), count(distinct storefront) from storefront_notices"
                       ).fetchone() == (drafted, drafted)


def staging_figures(stages: dict[tuple[str, str], str | None],
                    truth: dict[tuple[str, str], dict[str, Any]], brand: str
                    ) -> tuple[float, float, float]:
    """(share of the hard counterfeits staged, takedown precision, recall) of ``stages``
    (listing -> stage or None) against the truth records of the listings a sweep found."""
    counts: Counter[str] = Counter()
    for key, r in truth.items():
        stage = stages.get(key)
        fake = r["label"] == "counterfeit" and r["brand"] == brand
        counts[f"{'fake' if fake else 'real'}:{stage or 'none'}"] += 1
        if fake and r["difficulty"] == "hard":
            counts[f"hard:{'staged' if stage else 'missed'}"] += 1
    fakes = sum(v for k, v in counts.items() if k.startswith("fake:"))
    takedowns = counts["fake:takedown"] + counts["real:takedown"]
    hard = counts["hard:staged"] + counts["hard:missed"]
    assert fakes and takedowns and hard >= 100, counts  # issue 17: 100 or more a brand
    return (counts["hard:staged"] / hard, counts["fake:takedown"] / takedowns,
            1 - counts["fake:none"] / fakes)


SWEPT = ("bazaar", "megamart", "tradehub", "shopfront")


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[Path, dict[str, dict[tuple[str, str], dict[str, Any]]]]]:
    """The default (hard) fixture world swept for both brands into one store, as `make
    demo` does, photos and seller networks included; and each brand's truth."""
    from fixtures.server import FixtureServer
    from tests.test_sweep import brandsweep, expected

    db = tmp_path_factory.mktemp("swept") / "store.db"
    truths = {}
    with FixtureServer(port=0, seed=7) as server:
        assert server.app.catalogue.hard
        for brand in ("acme", "velora"):
            done = brandsweep(server, "sweep", "--brand", brand, "--db", str(db),
                              "--no-evidence", "--no-draft", "--json", timeout=280)
            assert done.returncode == 0, done.stderr
            assert json.loads(done.stdout)["networks"]["photos"] > 0
            truths[brand] = expected(server.app.catalogue, server.url, brand, SWEPT)
    yield db, truths


# two full sweeps of four marketplaces (one of them in a browser) on a shared machine
@pytest.mark.browser
@pytest.mark.timeout(900)
@pytest.mark.parametrize("brand", ["acme", "velora"])
def test_a_sweep_of_the_fixture_world_stages_the_hard_counterfeits(
        swept: tuple[Path, dict[str, dict[tuple[str, str], dict[str, Any]]]],
        brand: str) -> None:
    """Issue 17's target, proven on a real sweep (http and browser marketplaces, photos
    fetched and hashed, networks clustered), not on a store filled by hand."""
    import sqlite3

    db, truths = swept
    stages = {(m, lid): stage for m, lid, stage in sqlite3.connect(db).execute(
        "select marketplace, listing_id, stage from evaluations where brand = ?", [brand])}
    assert truths[brand].keys() <= stages.keys()  # the sweep found every listing
    hard, takedown, recall = staging_figures(stages, truths[brand], brand)
    print(f"{brand} (sweep): hard counterfeits staged {hard:.3f}, takedown precision "
          f"{takedown:.3f}, recall {recall:.3f}")
    assert hard >= 0.9 and takedown >= 0.95 and recall >= 0.95


@pytest.mark.browser
@pytest.mark.timeout(900)
@pytest.mark.parametrize("brand", ["acme", "velora"])
def test_the_shipped_rules_without_photo_and_seller_selections_miss_the_hard_ones(
        swept: tuple[Path, dict[str, dict[tuple[str, str], dict[str, Any]]]],
        brand: str, tmp_path: Path) -> None:
    """The same swept store (photos, hashes, networks: every fact there), judged by the
    shipped rule set with each rule that selects on ``image`` or ``seller`` taken out:
    under 60% of the hard counterfeits staged."""
    import shutil

    from ruamel.yaml import YAML

    from crawler.store import Store

    db, truths = swept
    shutil.copytree(RULES, tmp_path, dirs_exist_ok=True)
    path = tmp_path / f"{brand}.yaml"
    yaml = YAML(typ="safe", pure=True)
    data = yaml.load(path.read_text())
    kept = [r for r in data["rules"] if not any(
        isinstance(s, dict) and ("image" in s or "seller" in s)
        for s in r["selections"].values())]
    assert 0 < len(kept) < len(data["rules"])
    with path.open("w") as f:
        yaml.dump({**data, "rules": kept}, f)
    text_only = loader.load(path)
    store = Store(db)
    keys = list(truths[brand])
    stages: dict[tuple[str, str], str | None] = {}
    for i in range(0, len(keys), 400):
        for row in store.listings_for([], keys=keys[i:i + 400], brand=text_only.brand_key):
            stages[row["marketplace"], row["listing_id"]] = text_only.evaluate(row).stage
    hard, _takedown, _recall = staging_figures(stages, truths[brand], brand)
    print(f"{brand} (sweep, rules without image/seller selections): hard counterfeits "
          f"staged {hard:.3f}")
    assert hard < 0.6
