"""Fetches the photos of listings new to the store, keeps each once by content, and
stores its perceptual hashes.

The first ``images.max`` photo URLs of a listing (the marketplace profile's setting) are
fetched through the crawler's own engine, so the marketplace's politeness applies to them
as to its pages: the same download slots, delay, robots.txt and retries. A URL the
profile may not fetch (``crawler.urls``) is recorded as refused, never requested. A photo
is written to ``BRANDSWEEP_IMAGES_DIR/<sha256>.<ext>`` with a thumbnail beside it in
``thumbs/``; the same bytes from another URL or listing are stored once.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from pathlib import Path
from typing import Any, Self

from PIL import Image
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler import urls
from crawler.files import write_whole
from crawler.images.hashing import UnreadableImage, hash_image
from crawler.items import Listing
from crawler.store import Store

THUMBNAIL = (160, 160)
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}
MAX_BYTES = 8 * 1024 * 1024  # a listing photo is never this big


def images_dir(db_path: str | Path) -> Path:
    """Where photos of the store at ``db_path`` are kept: ``<name>-images/`` beside it."""
    db = Path(db_path)
    return db.with_name(f"{db.stem}-images")


class ImagesPipeline:
    """Downloads, stores and hashes listing photos; runs before the store pipeline."""

    def __init__(self, db_path: str, folder: Path) -> None:
        self.store = Store(db_path)
        self.folder = folder

    crawler: Crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        s = crawler.settings
        if not s.get("BRANDSWEEP_DB") or not s.getint("BRANDSWEEP_SWEEP_ID"):
            raise NotConfigured("no store: BRANDSWEEP_DB and BRANDSWEEP_SWEEP_ID unset")
        if s.getint("BRANDSWEEP_IMAGES_MAX") <= 0:
            raise NotConfigured("the profile fetches no images (images: {max: 0})")
        folder = Path(s.get("BRANDSWEEP_IMAGES_DIR") or images_dir(s["BRANDSWEEP_DB"]))
        pipeline = cls(s["BRANDSWEEP_DB"], folder)
        pipeline.crawler = crawler
        pipeline.max_images = s.getint("BRANDSWEEP_IMAGES_MAX")
        return pipeline

    max_images: int = 1

    def _count(self, what: str) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(f"brandsweep/images_{what}")

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, Listing) or not item.image_urls:
            return item
        if self.store.has_images(item.marketplace, item.listing_id):
            return item  # fetched by an earlier page or sweep: photos of a listing stay
        spider = self.crawler.spider
        profile = getattr(spider, "profile", None)  # the profile spider's marketplace
        policy = urls.for_profile(profile) if profile is not None else None
        for position, url in enumerate(item.image_urls[:self.max_images]):
            refusal = policy.refusal(url) if policy is not None else "no profile"
            if refusal is not None:
                self._count("refused")
                self.store.link_image(item.marketplace, item.listing_id, position, url, None,
                                      f"refused: {refusal}")
                continue
            known = self.store.image_for_url(url)
            if known is not None:
                self._count("known")
                self.store.link_image(item.marketplace, item.listing_id, position, url,
                                      known, "ok")
                continue
            sha, status = await self._fetch(url)
            self.store.link_image(item.marketplace, item.listing_id, position, url, sha,
                                  status)
        return item

    async def _fetch(self, url: str) -> tuple[str | None, str]:
        """Download, store and hash one photo: its content hash and ``ok``, or why not."""
        assert self.crawler.engine is not None
        request = Request(url, meta={"handle_httpstatus_all": True,
                                     "download_maxsize": MAX_BYTES}, dont_filter=True)
        try:
            response = await self.crawler.engine.download_async(request)
        except Exception as exc:  # a photo that cannot be fetched is no reason to stop
            self._count("failed")
            return None, f"failed: {type(exc).__name__}: {exc}"[:200]
        if response.status != 200:
            self._count("failed")
            return None, f"failed: HTTP {response.status}"
        data = response.body
        sha = hashlib.sha256(data).hexdigest()
        try:
            # decoding, eight perceptual hashes and a thumbnail are CPU work: off the
            # crawler's event loop, so pages keep downloading and parsing meanwhile
            kind, size, hashes, thumb_jpeg = await asyncio.to_thread(_digest, data)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError,
                UnreadableImage) as exc:
            self._count("unreadable")
            return None, f"unreadable: {exc}"[:200]
        name = f"{sha}.{EXTENSIONS.get(kind, 'img')}"
        _write_once(self.folder / name, data)
        thumb_file = Path("thumbs") / f"{sha}.jpg"
        _write_once(self.folder / thumb_file, thumb_jpeg)
        self.store.save_image({
            "sha256": sha, "url": url,
            "content_type": (response.headers.get(b"Content-Type") or b"").decode("latin-1")
            or None,
            "width": size[0], "height": size[1], "bytes": len(data), "file": name,
            "thumbnail": str(thumb_file), "fetched_at": None}, hashes.rows())
        self._count("stored")
        return sha, "ok"


def _digest(data: bytes) -> tuple[str, tuple[int, int], Any, bytes]:
    """A photo's format, size, perceptual hashes and JPEG thumbnail (in a worker thread)."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        kind = image.format or ""
        hashes = hash_image(image)
        size = image.size
        thumb = image.convert("RGB")
        thumb.thumbnail(THUMBNAIL)
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=80)
    return kind, size, hashes, out.getvalue()


def _write_once(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole, unless a photo of this content is there already."""
    if not path.exists():
        write_whole(path, data)
