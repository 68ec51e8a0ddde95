"""The seeded catalogue: size, labels, tricks, determinism."""

from __future__ import annotations

from collections import Counter

from fixtures.brands import BRANDS, HOMOGLYPHS, MARKETPLACES
from fixtures.catalogue import LABELS, Catalogue


def test_size_and_spread(catalogue: Catalogue) -> None:
    assert len(catalogue.listings) >= 1500
    per = Counter((x.marketplace, x.label) for x in catalogue.listings)
    for market in MARKETPLACES:
        for label in LABELS:
            assert per[market, label] >= 40, (market, label)


def test_listing_identity_is_unique(catalogue: Catalogue) -> None:
    keys = [(x.marketplace, x.listing_id) for x in catalogue.listings]
    assert len(keys) == len(set(keys))


def test_counterfeits_use_the_real_tricks(catalogue: Catalogue) -> None:
    tricks = Counter(t for x in catalogue.listings if x.label == "counterfeit" for t in x.tricks)
    for trick in ("misspelling", "homoglyph", "zero-width", "spaced", "leetspeak",
                  "replica-wording", "style-wording", "reused-image", "seller-alias", "hard"):
        assert tricks[trick] >= 5, trick
    titles = [x.title for x in catalogue.listings if "homoglyph" in x.tricks]
    assert all(any(c in t for c in HOMOGLYPHS.values()) for t in titles)
    assert any("\u200b" in x.title for x in catalogue.listings)


def test_the_same_photo_is_reused_across_sellers(catalogue: Catalogue) -> None:
    sellers_per_image: dict[str, set[str]] = {}
    for x in catalogue.listings:
        if x.label == "counterfeit":
            sellers_per_image.setdefault(x.image, set()).add(x.seller)
    assert max(len(s) for s in sellers_per_image.values()) >= 3


def test_no_rule_wins_by_accident(catalogue: Catalogue) -> None:
    """Hard counterfeits price fairly; some genuine listings are deeply discounted."""
    fair_fakes = [x for x in catalogue.listings if "hard" in x.tricks]
    assert fair_fakes and all("AAA" not in x.title for x in fair_fakes)
    clearance = [x for x in catalogue.listings if x.label == "authorized"
                 and "Clearance" in x.title]
    assert len(clearance) >= 10


def test_near_words_and_accessories_are_returned_by_brand_search(catalogue: Catalogue) -> None:
    hits = catalogue.search("bazaar", "acme")
    unrelated = [x.title for x in hits if x.label == "unrelated"]
    assert any("Acne" in t for t in unrelated)
    assert any("for Acme" in t or "compatible with Acme" in t for t in unrelated)


def test_same_seed_same_catalogue_other_seed_other_catalogue() -> None:
    a, b, c = Catalogue(7), Catalogue(7), Catalogue(8)
    assert a.listings == b.listings
    assert [x.listing_id for x in a.listings] != [x.listing_id for x in c.listings]


def test_search_is_case_and_space_insensitive(catalogue: Catalogue) -> None:
    assert catalogue.search("megamart", "  ACME  Headphones") == \
        catalogue.search("megamart", "acme headphones")
    assert catalogue.search("megamart", "") == []
    assert catalogue.search("megamart", "zzzz-nothing") == []


def test_truth_keywords_say_which_brand_searches_return_a_listing(catalogue: Catalogue) -> None:
    for record in catalogue.truth("http://x", "tradehub"):
        for k in record["keywords"]:  # type: ignore[attr-defined]
            hits = {x.listing_id for x in catalogue.search("tradehub", k)}
            assert record["listing_id"] in hits
    all_keywords = {k for b in BRANDS.values() for k in b.keywords}
    seen = {k for r in catalogue.truth("http://x") for k in r["keywords"]}  # type: ignore[attr-defined]
    assert seen == all_keywords
