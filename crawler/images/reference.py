"""A brand's reference photos: the folder a rule set names in ``brand.reference_images``.

Every image file in the folder (not its subfolders) is hashed once per content: loading
the same rule set again, as tests and every sweep do, costs a file read per photo.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from crawler.images.hashing import PhotoHashes, UnreadableImage, hash_bytes

SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")


class ReferenceFolderError(ValueError):
    """A reference folder that cannot be used (raised by ``load``; the loader reports it)."""


@lru_cache(maxsize=1024)
def _hashed(digest: str, data: bytes) -> PhotoHashes:
    return hash_bytes(data)


def load(folder: Path) -> list[tuple[str, str, PhotoHashes]]:
    """(file name, SHA-256, hashes) of each photo in ``folder``, by name."""
    if not folder.is_dir():
        raise ReferenceFolderError(f"reference photos folder {folder} does not exist; paths are "
                             "relative to the rule set file")
    out = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in SUFFIXES:
            continue
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        try:
            out.append((path.name, digest, _hashed(digest, data)))
        except UnreadableImage as exc:
            raise ReferenceFolderError(f"{path}: not a photo we can read ({exc}); remove it or "
                                 "replace it with a PNG or JPEG") from exc
    if not out:
        raise ReferenceFolderError(f"reference photos folder {folder} has no photos "
                             f"({', '.join(SUFFIXES)})")
    return out
