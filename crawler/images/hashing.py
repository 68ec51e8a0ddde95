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
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps

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
    box = _trim_box(np.asarray(rgb), passes)
    return rgb if box == (0, 0, rgb.width, rgb.height) else rgb.crop(box)


def _luma_of_difference(pixels: NDArray[np.uint8], colour: NDArray[np.uint8]
                        ) -> NDArray[np.float32]:
    """Pillow's ``ImageChops.difference(image, colour).convert("L")`` before its final
    shift, in numpy: the ITU-R 601 luma of each pixel's distance from ``colour`` in
    Pillow's 16-bit fixed point (float32 holds every such sum exactly: all are below 2**24)."""
    diff = np.abs(pixels.astype(np.int16) - colour.astype(np.int16)).astype(np.float32)
    luma: NDArray[np.float32] = diff @ _LUMA_WEIGHTS
    return luma


# Pillow's L24 weights; a luma above ``BORDER_TOLERANCE`` is one of 25 << 16 or more
_LUMA_WEIGHTS = np.array([19595, 38470, 7471], dtype=np.float32)
_ABOVE_TOLERANCE = float(((BORDER_TOLERANCE + 1) << 16) - 0x8000)


def _trim_box(pixels: NDArray[np.uint8], passes: int) -> tuple[int, int, int, int]:
    """The box ``trim_border`` keeps of an RGB array (numpy: this runs for every stored
    photo, twice, and Pillow's filters took most of a sweep's hashing time)."""
    left, top, right, bottom = 0, 0, pixels.shape[1], pixels.shape[0]
    for _ in range(passes):
        box = _trim_once(pixels[top:bottom, left:right])
        if box is None:
            break
        left, top, right, bottom = left + box[0], top + box[1], left + box[2], top + box[3]
    return left, top, right, bottom


def _trim_once(pixels: NDArray[np.uint8]) -> tuple[int, int, int, int] | None:
    """The box of what is not border in ``pixels``, or None to keep them as they are."""
    height, width = pixels.shape[:2]
    content = _luma_of_difference(pixels, pixels[0, 0]) >= _ABOVE_TOLERANCE
    # thin lines are JPEG ringing along a border's edge, not content: erode them away
    # (a 5x5 minimum, edges repeated outwards, as Pillow's MinFilter(5))
    kept = _erode(content, 2)
    rows, cols = np.flatnonzero(kept.any(axis=1)), np.flatnonzero(kept.any(axis=0))
    if rows.size == 0:
        return None
    box = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
    if box == (0, 0, width, height):
        return None
    if box[2] - box[0] < width * MIN_TRIMMED_SHARE or \
            box[3] - box[1] < height * MIN_TRIMMED_SHARE:
        return None
    return box


def _erode(mask: NDArray[np.bool_], radius: int) -> NDArray[np.bool_]:
    """``mask`` where every pixel within ``radius`` (a square) is set, edges repeated."""
    padded = np.pad(mask, radius, mode="edge")
    height, width = mask.shape
    size = 2 * radius + 1
    rows = padded[0:height].copy()
    for i in range(1, size):
        rows &= padded[i:i + height]
    out = rows[:, 0:width].copy()
    for i in range(1, size):
        out &= rows[:, i:i + width]
    return out


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
    pixels = np.array(image.convert("RGB"))
    background = _luma_of_difference(pixels, pixels[0, 0].copy()) < _ABOVE_TOLERANCE
    pixels[background] = 255
    left, top, right, bottom = _trim_box(pixels, 3)
    return Image.fromarray(pixels[top:bottom, left:right])


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
