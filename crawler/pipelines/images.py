"""Fetches the photos of listings new to the store, keeps each once by content, and
stores its perceptual hashes.

The first ``images.max`` photo URLs of a listing (the marketplace profile's setting) are
fetched through the crawler's own engine, so the marketplace's politeness applies to them
as to its pages: the same download slots, delay, robots.txt and retries. A URL the
profile may not fetch (``crawler.urls``) is recorded as refused, never requested. A photo
is written to ``BRANDSWEEP_IMAGES_DIR/<sha256>.<ext>`` with a thumbnail beside it in
``thumbs/``; the same bytes from another URL or listing are stored once.

Photos must not slow the crawl they belong to, so:

- a URL or listing met again while its photo is being fetched (one listing found by
  several keywords) waits for that fetch instead of starting its own;
- photos have a download slot of their own per host (``<host> photos``), with the
  marketplace's concurrency and delay: a browser page holds its slot for as long as it
  scrolls, while the server sees only the page's own small requests, so photos sharing
  the pages' slot waited for whole scrolls, and pages behind them for the photos;
- at most the marketplace's concurrency of photos is in the downloader at a time, so
  photos never fill the crawl's request budget (``CONCURRENT_REQUESTS``) and hold result
  pages back;
- decoding, hashing, the thumbnail and the two file writes (each flushed to disk) run in
  worker threads, never on the crawl's event loop;
- the store's rows are written in batches, one transaction per batch.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

from PIL import Image
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler import folders, urls
from crawler.files import write_whole
from crawler.images.hashing import PhotoHashes, UnreadableImage, hash_image
from crawler.items import Listing
from crawler.store import Store, now
from crawler.store.images import LinkRow, PhotoRow, save_batch

THUMBNAIL = (160, 160)
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}
MAX_BYTES = 8 * 1024 * 1024  # a listing photo is never this big
# threads that decode and hash: CPU work, so more than the cores would only take the GIL
# and the cores from the crawl (and its Chromium)
DIGEST_THREADS = max(1, min(4, os.cpu_count() or 1))
# threads that write photos: each write waits for the disk (fsync), not for a core
WRITE_THREADS = 8

Fetched = tuple[str | None, str]  # a photo's content hash (or None) and its status
Digest = tuple[str, tuple[int, int], PhotoHashes, bytes]  # format, size, hashes, thumbnail


def images_dir(db_path: str | Path) -> Path:
    """Where photos of the store at ``db_path`` are kept: ``<name>-images/`` beside it."""
    return folders.images_dir(db_path)


def photo_slot(url: str) -> str:
    """The download slot of photos from ``url``'s host (Scrapy's slot key is the host)."""
    return f"{urlsplit(url).hostname or ''} photos"


class ImagesPipeline:
    """Downloads, stores and hashes listing photos; runs before the store pipeline."""

    def __init__(self, db_path: str, folder: Path, *, max_images: int = 1,
                 concurrency: int = 4, flush_items: int = 200,
                 flush_seconds: float = 2.0) -> None:
        self.store = Store(db_path)
        self.folder = folder
        self.max_images = max_images
        self.concurrency = max(1, concurrency)
        self.flush_items = flush_items
        self.flush_seconds = flush_seconds
        self._listings: set[tuple[str, str]] = set()  # this crawl's, until linked
        # by URL, this crawl's fetches until their links are in the store
        self._photos: dict[str, asyncio.Future[Fetched]] = {}
        self._slots: asyncio.Semaphore | None = None
        self._digests: ThreadPoolExecutor | None = None
        self._writes: ThreadPoolExecutor | None = None
        self._pending_photos: list[PhotoRow] = []
        self._pending_links: list[LinkRow] = []
        self._last_flush = time.monotonic()

    crawler: Crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        s = crawler.settings
        if not s.get("BRANDSWEEP_DB") or not s.getint("BRANDSWEEP_SWEEP_ID"):
            raise NotConfigured("no store: BRANDSWEEP_DB and BRANDSWEEP_SWEEP_ID unset")
        if s.getint("BRANDSWEEP_IMAGES_MAX") <= 0:
            raise NotConfigured("the profile fetches no images (images: {max: 0})")
        folder = Path(s.get("BRANDSWEEP_IMAGES_DIR") or images_dir(s["BRANDSWEEP_DB"]))
        pipeline = cls(s["BRANDSWEEP_DB"], folder,
                       max_images=s.getint("BRANDSWEEP_IMAGES_MAX"),
                       concurrency=s.getint("CONCURRENT_REQUESTS_PER_DOMAIN", 4),
                       flush_items=s.getint("BRANDSWEEP_FLUSH_ITEMS", 200),
                       flush_seconds=s.getfloat("BRANDSWEEP_FLUSH_SECONDS", 2.0))
        pipeline.crawler = crawler
        return pipeline

    def open_spider(self) -> None:
        self._digests = ThreadPoolExecutor(DIGEST_THREADS, "brandsweep-hashing")
        self._writes = ThreadPoolExecutor(WRITE_THREADS, "brandsweep-photos")
        # the first pHash imports SciPy (most of a second): done now, while the browser
        # starts and the first pages load, not when the first photo waits for it
        self._digests.submit(hash_image, Image.new("RGB", (8, 8)))

    def _count(self, what: str) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(f"brandsweep/images_{what}")

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, Listing) or not item.image_urls:
            return item
        key = (item.marketplace, item.listing_id)
        if key in self._listings or self.store.has_images(*key):
            return item  # fetched by an earlier page or sweep: photos of a listing stay
        self._listings.add(key)
        spider = self.crawler.spider
        profile = getattr(spider, "profile", None)  # the profile spider's marketplace
        policy = urls.for_profile(profile) if profile is not None else None
        for position, url in enumerate(item.image_urls[:self.max_images]):
            refusal = policy.refusal(url) if policy is not None else "no profile"
            if refusal is not None:
                self._count("refused")
                self._link(key, position, url, None, f"refused: {refusal}")
                continue
            sha, status = await self._photo(url)
            self._link(key, position, url, sha, status)
        return item

    async def _photo(self, url: str) -> Fetched:
        """The photo at ``url``: fetched by this crawl already (or being fetched), by an
        earlier one, or now."""
        fetch = self._photos.get(url)
        if fetch is None:
            known = self.store.image_for_url(url)
            if known is not None:
                self._count("known")
                return known, "ok"
            fetch = self._photos[url] = asyncio.ensure_future(self._fetch(url))
        elif fetch.done():
            self._count("known")
        return await asyncio.shield(fetch)

    def _link(self, key: tuple[str, str], position: int, url: str, sha: str | None,
              status: str) -> None:
        self._pending_links.append((*key, position, url, sha, status, now()))
        if len(self._pending_links) >= self.flush_items or \
                time.monotonic() - self._last_flush >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        """Write the photos and links gathered since the last flush, in one transaction."""
        photos, links = self._pending_photos, self._pending_links
        self._pending_photos, self._pending_links = [], []
        self._last_flush = time.monotonic()
        if photos or links:
            save_batch(self.store, photos, links)
        # What the store now answers for, the crawl stops keeping, so its memory stays flat
        # however many listings it meets: a listing with a stored link, a stored photo's
        # URL (a failed one stays, not to be fetched again by each listing showing it).
        self._listings.difference_update(link[:2] for link in links)
        for url, sha in {link[3]: link[4] for link in links}.items():
            fetch = self._photos.get(url)
            if sha is not None and fetch is not None and fetch.done():
                del self._photos[url]

    async def _fetch(self, url: str) -> Fetched:
        """Download, store and hash one photo: its content hash and ``ok``, or why not."""
        assert self.crawler.engine is not None
        request = Request(url, meta={"handle_httpstatus_all": True,
                                     "download_maxsize": MAX_BYTES,
                                     "download_slot": photo_slot(url)}, dont_filter=True)
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrency)
        try:
            async with self._slots:
                response = await self.crawler.engine.download_async(request)
        except Exception as exc:  # a photo that cannot be fetched is no reason to stop
            self._count("failed")
            return None, f"failed: {type(exc).__name__}: {exc}"[:200]
        if response.status != 200:
            self._count("failed")
            return None, f"failed: HTTP {response.status}"
        if self._digests is None or self._writes is None:
            self.open_spider()
        # CPU work and disk flushes: off the crawler's event loop, so pages keep
        # downloading and parsing meanwhile
        loop = asyncio.get_running_loop()
        data = response.body
        try:
            digest = await loop.run_in_executor(self._digests, _digest, data)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError,
                UnreadableImage) as exc:
            self._count("unreadable")
            return None, f"unreadable: {exc}"[:200]
        row = await loop.run_in_executor(
            self._writes, _keep, self.folder, url, data,
            response.headers.get(b"Content-Type"), digest)
        self._pending_photos.append(row)
        self._count("stored")
        return row[0]["sha256"], "ok"

    def close_spider(self) -> None:
        self.flush()
        for threads in (self._digests, self._writes):
            if threads is not None:
                threads.shutdown(wait=True)
        self._digests = self._writes = None


def _keep(folder: Path, url: str, data: bytes, content_type: bytes | None,
          digest: Digest) -> PhotoRow:
    """Write a photo and its thumbnail once by content and return its store rows (in a
    worker thread)."""
    kind, size, hashes, thumb_jpeg = digest
    sha = hashlib.sha256(data).hexdigest()
    name = f"{sha}.{EXTENSIONS.get(kind, 'img')}"
    _write_once(folder / name, data)
    thumb_file = Path("thumbs") / f"{sha}.jpg"
    _write_once(folder / thumb_file, thumb_jpeg)
    return ({"sha256": sha, "url": url,
             "content_type": (content_type or b"").decode("latin-1") or None,
             "width": size[0], "height": size[1], "bytes": len(data), "file": name,
             "thumbnail": str(thumb_file), "fetched_at": now()}, hashes.rows())


def _digest(data: bytes) -> Digest:
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
