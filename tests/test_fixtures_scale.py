"""``--scale N``: a world N times the 1x one, deterministic, the same mix, and the 1x world
itself unchanged byte for byte."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections import Counter

import pytest

from fixtures import images, scale
from fixtures.brands import BRANDS, MARKETPLACES
from fixtures.catalogue import Catalogue
from fixtures.server import health
from tests.conftest import fetch

# sha256 of `python -m fixtures truth` / `changes` output as it was before --scale existed:
# the tests and the demo are written against this world. A deliberate change of the 1x
# world updates these; a change made for a bigger world must leave them be.
TODAY = {
    ("truth",): "9488af7b62d8c2ca739454e6e74d30dbea6fad3f7955acd0492d2880ae63ae0e",
    ("truth", "--easy"): "846cc2bd1de4f0b48fc46fe6ceb1eb51ba17038b4f65ce9164eab53c8ee5897b",
    ("truth", "--day", "3"): "19fe8ca553ba376255cecc34fc9642b0a91448a4261cfdfad54980a85ef01f45",
    ("changes", "--day", "3"):
        "fd31d5b02567c747528e57f0fdb9e8504f89ec2b12808b54ff12937dffcf8dc9",
}
CONTACT = re.compile(r"WeChat: \S+|WhatsApp [+\d ]+\d|e-mail \S+@\S+\w|Tel [+\d ]+\d")


def _run(*args: str, hash_seed: str = "0") -> str:
    done = subprocess.run([sys.executable, "-m", "fixtures", *args], capture_output=True,
                          text=True, timeout=300, check=True,
                          env=dict(os.environ, PYTHONHASHSEED=hash_seed))
    return done.stdout


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(scope="module")
def one() -> Catalogue:
    return Catalogue(7, scale=1)


@pytest.fixture(scope="module")
def three() -> Catalogue:
    return Catalogue(7, scale=3)


@pytest.mark.parametrize("args", sorted(TODAY))
def test_scale_1_is_todays_world_byte_for_byte(args: tuple[str, ...]) -> None:
    assert _digest(_run(*args, "--scale", "1")) == TODAY[args]


def test_scale_1_is_the_default(one: Catalogue) -> None:
    assert Catalogue(7).listings == one.listings
    records = "".join(json.dumps(r, ensure_ascii=False) + "\n"
                      for r in Catalogue(7).truth("http://127.0.0.1:8900"))
    assert _digest(records) == TODAY[("truth",)]


def test_the_1x_world_is_part_of_every_bigger_one(one: Catalogue, three: Catalogue) -> None:
    assert set(one.listings) <= set(three.listings)
    assert len(three.listings) == 3 * len(one.listings)
    keys = [(x.marketplace, x.listing_id) for x in three.listings]
    assert len(keys) == len(set(keys))


def test_the_label_plan_and_the_tricks_scale_alike(one: Catalogue, three: Catalogue) -> None:
    per1 = Counter((x.marketplace, x.label) for x in one.listings)
    per3 = Counter((x.marketplace, x.label) for x in three.listings)
    assert per3 == Counter({k: 3 * v for k, v in per1.items()})
    hard1 = Counter(x.difficulty for x in one.listings)
    hard3 = Counter(x.difficulty for x in three.listings)
    assert hard3["hard"] == 3 * hard1["hard"]
    for level in ("easy", "careful"):  # drawn per listing: about three times
        assert 2.5 * hard1[level] <= hard3[level] <= 3.5 * hard1[level], level
    tricks1 = Counter(t for x in one.listings for t in x.tricks)
    tricks3 = Counter(t for x in three.listings for t in x.tricks)
    assert tricks3.keys() == tricks1.keys()
    for trick, n in tricks1.items():
        assert 2 * n <= tricks3[trick] <= 4 * n, trick


def test_every_keyword_finds_scale_times_the_listings(one: Catalogue, three: Catalogue
                                                      ) -> None:
    for market in MARKETPLACES:
        for brand in BRANDS.values():
            # every brand listing carries the brand keyword: exactly three times
            assert len(three.search(market, brand.keywords[0])) == \
                3 * len(one.search(market, brand.keywords[0])), market
            for keyword in brand.keywords[1:]:  # products are drawn: about three times
                n = len(one.search(market, keyword))
                assert 2 * n <= len(three.search(market, keyword)) <= 4 * n, (market, keyword)


def test_more_sellers_networks_and_products_one_operator_each(one: Catalogue,
                                                              three: Catalogue) -> None:
    def networks(c: Catalogue) -> set[str]:
        return {x.seller_group for x in c.listings if x.seller_group}

    assert len(networks(three)) == 3 * len(networks(one))
    sellers = {(x.marketplace, x.seller) for x in three.listings}
    assert len(sellers) > 2.5 * len({(x.marketplace, x.seller) for x in one.listings})
    operator: dict[tuple[str, str], set[str]] = {}
    contact: dict[str, set[str]] = {}
    for x in three.listings:
        if x.seller_group:
            operator.setdefault((x.marketplace, x.seller), set()).add(x.seller_group)
        for found in CONTACT.findall(x.description):
            contact.setdefault(found, set()).add(x.seller_network or "-")
    assert all(len(n) == 1 for n in operator.values())
    assert all(len(n) == 1 and "-" not in n for n in contact.values())
    # other finishes of the same products: the SKUs and official photos rule sets know
    names = {x.title for x in three.listings if x.label == "authorized"}
    assert any(f" {scale.finish(2)}" in t for t in names)
    assert {x.sku for x in three.listings} == {x.sku for x in one.listings}
    assert {images.source_of(x.image) for x in three.listings} == \
        {images.source_of(x.image) for x in one.listings}


def test_the_easy_world_is_still_the_hard_one_without_them(three: Catalogue) -> None:
    easy = Catalogue(7, hard=False, scale=3)
    assert [x for x in three.listings if x.difficulty != "hard"] == easy.listings


def test_the_timeline_moves_a_scaled_world_alike() -> None:
    day1, day3 = Catalogue(7, 3), Catalogue(7, 3, scale=3)
    kinds1, kinds3 = Counter(c.change for c in day1.changes), Counter(c.change for c in
                                                                       day3.changes)
    assert kinds3.keys() == {"removed", "relisted", "price"}
    for kind, n in kinds1.items():
        assert 2.5 * n <= kinds3[kind] <= 3.5 * n, kind
    for c in day3.changes:
        if c.change == "relisted":
            back = day3.by_id[c.marketplace, c.listing_id]
            old = day3.removed[c.marketplace, c.detail["relisted_from"]]
            assert back.seller_group == old.seller_group and back.image == old.image


def test_scale_20_is_30000_listings_the_same_in_every_process() -> None:
    first = _run("truth", "--easy", "--scale", "20", hash_seed="1")
    second = _run("truth", "--easy", "--scale", "20", hash_seed="2")
    assert first == second
    assert len(first.splitlines()) >= 30_000


def test_a_scale_out_of_range_is_a_usage_error() -> None:
    done = subprocess.run([sys.executable, "-m", "fixtures", "truth", "--scale", "0"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "--scale" in done.stderr
    with pytest.raises(ValueError, match="scale must be 1 to"):
        scale.parts(7, scale.MAX_SCALE + 1)


def test_serve_scale_serves_the_scaled_world(scaled_catalogue: Catalogue) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "fixtures", "serve", "--port", "0",
                             "--easy", "--scale", "3"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        record = health(url, timeout=30)
        assert record["scale"] == 3 and record["listings"] == len(scaled_catalogue.listings)
        last = -(-len(scaled_catalogue.search("bazaar", "acme")) // 24)
        page = fetch(f"{url}/bazaar/sch?q=acme&page={last}").text
        assert "s-item" in page and "pagination__next" not in page
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_world_is_generated_once_per_process() -> None:
    assert scale.world(7, 0, False, 3) is scale.world(7, 0, False, 3)
    assert scale.world(7, 1, False, 3) is not scale.world(7, 0, False, 3)
