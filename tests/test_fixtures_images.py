"""The fixture photos: official photos per product and angle, and their counterfeit reuses."""

from __future__ import annotations

import io

from PIL import Image

from fixtures import images
from fixtures.brands import BRANDS
from fixtures.server import FixtureServer
from tests.conftest import fetch

SKUS = [p.sku for brand in BRANDS.values() for p in brand.products]


def _open(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def test_official_photos_are_distinct_per_product_and_angle() -> None:
    ids = [images.official_id(sku, a) for sku in SKUS for a in range(images.ANGLES)]
    photos = [images.photo(i) for i in ids]
    assert len(set(photos)) == len(ids)
    assert all(p.startswith(b"\x89PNG") for p in photos)
    assert {_open(p).size for p in photos} == {(images.SIZE, images.SIZE)}
    assert all(images.source_of(i) == i for i in ids)


def test_the_same_id_gives_the_same_bytes() -> None:
    some = images.derived_id(images.official_id("ACM-PX2", 1), "watermark", 3)
    first = images.photo(some)
    images.photo.cache_clear()
    assert images.photo(some) == first


def test_derived_photos_are_jpeg_reuses_of_their_source() -> None:
    source = images.official_id("VEL-SIE", 2)
    for transform in images.TRANSFORMS:
        for n in range(5):
            image_id = images.derived_id(source, transform, n)
            data = images.photo(image_id)
            how = images.derivation(image_id)
            assert how is not None and how.source == source and how.transform == transform
            assert images.source_of(image_id) == source
            assert data.startswith(b"\xff\xd8") and images.content_type(image_id) == "image/jpeg"
            width, height = _open(data).size
            if transform in ("crop", "pad"):
                assert 0 < how.amount <= 0.10
                # each side loses or gains at most the amount
                limit = images.SIZE * 2 * how.amount + 2
                assert abs(width - images.SIZE) <= limit and abs(height - images.SIZE) <= limit
                assert (width, height) != (images.SIZE, images.SIZE)
            elif transform == "resize":
                assert width < images.SIZE and width == height
            elif transform == "background":
                assert (width, height) == (images.SIZE, images.SIZE)
            else:  # each copy a size of its own, so no two copies are the same file
                assert width == height and images.SIZE - 24 < width <= images.SIZE
            assert data != images.photo(source)


def test_sellers_own_photos_derive_from_nothing() -> None:
    for image_id in ("gen-123", "resale-42", "own-acme-bazaar-n1-ACM-PX2-0", "cf-x-ACM-PX2"):
        assert images.source_of(image_id) is None and images.derivation(image_id) is None
        assert images.photo(image_id).startswith(b"\x89PNG")


def test_the_server_serves_photos_by_their_format(fixture_server: FixtureServer) -> None:
    derived = images.derived_id(images.official_id("ACM-T30", 0), "crop", 7)
    got = fetch(f"{fixture_server.url}/img/{derived}.jpg")
    assert got.status == 200 and got.headers["content-type"] == "image/jpeg"
    assert got.body == images.photo(derived)
    assert fetch(f"{fixture_server.url}/img/{derived}.png").status == 404
    assert fetch(f"{fixture_server.url}/img/.png").status == 404
    listing = next(x for x in fixture_server.app.catalogue.listings if "~" in x.image)
    assert fetch(fixture_server.url + listing.image_path).status == 200
