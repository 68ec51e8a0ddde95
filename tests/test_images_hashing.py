"""Perceptual hashes of photos: views, storage form, unreadable input."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from crawler.images import hashing
from fixtures import images


def test_the_same_photo_hashes_the_same_and_rows_round_trip() -> None:
    data = images.photo(images.official_id("ACM-PX2", 0))
    a, b = hashing.hash_bytes(data), hashing.hash_bytes(data)
    assert a == b
    rows = a.rows()
    assert len(rows) == 2 * len(hashing.VIEWS)
    assert all(-(1 << 63) <= value < 1 << 63 for _, _, value in rows)  # fits SQLite
    assert hashing.PhotoHashes.from_rows(rows) == a
    assert all(0 <= h < 1 << 64 for h in a.phash + a.dhash)


def test_signed_storage_form_round_trips_the_top_bit() -> None:
    for value in (0, 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1):
        assert hashing.to_unsigned(hashing.to_signed(value)) == value


def test_trim_border_removes_padding_of_any_colour() -> None:
    photo = Image.open(io.BytesIO(images.photo(images.official_id("VEL-LID", 1))))
    trimmed = hashing.trim_border(photo)
    padded = Image.new("RGB", (photo.width + 40, photo.height + 20), (200, 30, 30))
    padded.paste(photo, (25, 5))
    assert hashing.trim_border(padded).size == trimmed.size
    assert trimmed.width < photo.width  # the studio background is a border too
    plain = Image.new("RGB", (50, 50), (9, 9, 9))
    assert hashing.trim_border(plain).size == (50, 50)  # nothing but background: kept


def test_mirrored_view_is_the_mirror_image_hash() -> None:
    photo = Image.open(io.BytesIO(images.photo(images.official_id("ACM-T30", 2))))
    mirrored = photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    a, b = hashing.hash_image(photo), hashing.hash_image(mirrored)
    assert a.phash[2] == b.phash[0] and a.dhash[2] == b.dhash[0]


@pytest.mark.parametrize("data", [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\0" * 40])
def test_unreadable_bytes_are_our_error(data: bytes) -> None:
    with pytest.raises(hashing.UnreadableImage):
        hashing.hash_bytes(data)
