"""Perceptual hashes of a listing photo, robust to the ways counterfeiters reuse photos.

A photo gets a 64-bit pHash and a 64-bit dHash (``imagehash``) of four views: as it is,
with its plain border trimmed off (undoes padding and most cropping: both leave the same
product on a studio background), mirrored, and cut out (the background, the colour of the
corner, painted white, then trimmed: the product put on another backdrop). Matching
(``crawler.images.matching``) compares a photo's views with another photo's, so a padded,
mirrored or re-backed copy is about as close to its source as a resized one.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import imagehash
from PIL import Image, ImageChops, ImageFilter, ImageOps

VIEWS: tuple[str, ...] = ("plain", "trimmed", "mirrored", "cutout")
# a border pixel this close (0-255, per channel) to the corner colour is background
BORDER_TOLERANCE = 24
# trimming that keeps less than this share of a side is a photo of a plain surface, not a
# border: keep the photo as it is
MIN_TRIMMED_SHARE = 0.3
MAX_PIXELS = 40_000_000  # larger images are refused as decompression bombs


class UnreadableImage(ValueError):
    """The bytes are not an image Pillow can decode (raised by ``hash_bytes``)."""


@dataclass(frozen=True)
class PhotoHashes:
    """The pHash and dHash of each of a photo's ``VIEWS``, as unsigned 64-bit ints."""

    phash: tuple[int, int, int, int]
    dhash: tuple[int, int, int, int]

    def rows(self) -> list[tuple[str, str, int]]:
        """``(view, algorithm, value)`` rows, values as signed 64-bit ints (SQLite's)."""
        out = []
        for i, view in enumerate(VIEWS):
            out.append((view, "phash", to_signed(self.phash[i])))
            out.append((view, "dhash", to_signed(self.dhash[i])))
        return out

    @classmethod
    def from_rows(cls, rows: list[tuple[str, str, int]]) -> PhotoHashes:
        """The inverse of ``rows``; a missing view is an error."""
        got = {(view, algo): to_unsigned(value) for view, algo, value in rows}
        plain, trimmed, mirrored, cutout = VIEWS
        return cls((got[plain, "phash"], got[trimmed, "phash"], got[mirrored, "phash"],
                    got[cutout, "phash"]),
                   (got[plain, "dhash"], got[trimmed, "dhash"], got[mirrored, "dhash"],
                    got[cutout, "dhash"]))


def to_signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def to_unsigned(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


def _bits(h: imagehash.ImageHash) -> int:
    value = 0
    for bit in h.hash.flatten():
        value = (value << 1) | int(bit)
    return value


def trim_border(image: Image.Image, passes: int = 3) -> Image.Image:
    """``image`` without its plain borders: the colour of the top-left corner, give or take
    ``BORDER_TOLERANCE``, cut away from every side, again while a border remains (padding
    of one colour around a studio background of another)."""
    rgb = image.convert("RGB")
    for _ in range(passes):
        trimmed = _trim_once(rgb)
        if trimmed.size == rgb.size:
            break
        rgb = trimmed
    return rgb


def _trim_once(rgb: Image.Image) -> Image.Image:
    corner = rgb.getpixel((0, 0))
    plain = Image.new("RGB", rgb.size, corner)
    diff = ImageChops.difference(rgb, plain).convert("L")
    mask = diff.point(lambda v: 255 if v > BORDER_TOLERANCE else 0)
    # thin lines are JPEG ringing along a border's edge, not content: erode them away
    box = mask.filter(ImageFilter.MinFilter(5)).getbbox()
    if box is None:
        return rgb
    width, height = box[2] - box[0], box[3] - box[1]
    if width < rgb.width * MIN_TRIMMED_SHARE or height < rgb.height * MIN_TRIMMED_SHARE:
        return rgb
    return rgb.crop(box)


def hash_image(image: Image.Image) -> PhotoHashes:
    """The perceptual hashes of a decoded photo."""
    plain = image.convert("RGB")
    views = (plain, trim_border(plain), ImageOps.mirror(plain), cut_out(plain))
    p = [_bits(imagehash.phash(v)) for v in views]
    d = [_bits(imagehash.dhash(v)) for v in views]
    return PhotoHashes((p[0], p[1], p[2], p[3]), (d[0], d[1], d[2], d[3]))


def cut_out(image: Image.Image) -> Image.Image:
    """``image`` with every pixel of its background colour (the top-left corner's, give or
    take ``BORDER_TOLERANCE``) painted white, then trimmed."""
    rgb = image.convert("RGB")
    corner = rgb.getpixel((0, 0))
    diff = ImageChops.difference(rgb, Image.new("RGB", rgb.size, corner)).convert("L")
    background = diff.point(lambda v: 255 if v <= BORDER_TOLERANCE else 0)
    white = Image.new("RGB", rgb.size, (255, 255, 255))
    return trim_border(Image.composite(white, rgb, background))


def hash_bytes(data: bytes) -> PhotoHashes:
    """The perceptual hashes of an encoded photo; ``UnreadableImage`` if it is none."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise UnreadableImage(f"{image.width}x{image.height} pixels is too large")
                image.load()
                return hash_image(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning,
            Image.DecompressionBombError) as exc:
        if isinstance(exc, UnreadableImage):
            raise
        raise UnreadableImage(str(exc) or type(exc).__name__) from exc
