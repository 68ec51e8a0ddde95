"""Sweeps fetch each new listing's first photo through Scrapy, store it once by content
and keep its perceptual hashes."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from scrapy.crawler import Crawler

from crawler.images.hashing import VIEWS
from crawler.pipelines.images import ImagesPipeline, images_dir
from crawler.store import Store, now
from fixtures import images
from fixtures.server import FixtureServer
from tests import asyncrun
from tests.test_sweep import brandsweep


@pytest.fixture(scope="module")
def server() -> Iterator[FixtureServer]:
    with FixtureServer(port=0, seed=7) as s:
        yield s


def test_a_sweep_stores_each_photo_once_with_its_hashes(server: FixtureServer,
                                                        tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    args = ("sweep", "--brand", "velora", "--no-evidence", "--marketplace", "tradehub",
            "--db", str(db), "--max-pages", "1", "--json")
    done = brandsweep(server, *args)
    assert done.returncode == 0, done.stderr
    con = sqlite3.connect(db)
    listings = dict(con.execute("select listing_id, image_urls from listings"))
    links = {lid: (url, sha, status) for lid, url, sha, status in con.execute(
        "select listing_id, url, sha256, status from listing_images")}
    assert links.keys() == listings.keys()
    folder = images_dir(db)
    for lid, (url, sha, status) in links.items():
        assert status == "ok" and url == json.loads(listings[lid])[0]
        listing = server.app.catalogue.by_id["tradehub", lid]
        data = images.photo(listing.image)
        assert sha == hashlib.sha256(data).hexdigest()
        file, thumb = con.execute("select file, thumbnail from images where sha256 = ?",
                                  [sha]).fetchone()
        assert (folder / file).read_bytes() == data and (folder / thumb).is_file()
    distinct = len(set(sha for _, sha, _ in links.values()))
    assert con.execute("select count(*) from images").fetchone()[0] == distinct
    hashes = con.execute("select count(*) from image_hashes").fetchone()[0]
    assert hashes == 2 * len(VIEWS) * distinct
    assert len(list(folder.glob("*.*"))) == distinct

    again = brandsweep(server, *args)
    assert again.returncode == 0, again.stderr
    assert con.execute("select count(*) from images").fetchone()[0] == distinct
    fetched = con.execute("select count(*), max(fetched_at) from listing_images").fetchone()
    assert fetched[0] == len(links)


def test_a_profile_may_fetch_no_photos(server: FixtureServer, tmp_path: Path) -> None:
    profile = (Path(__file__).resolve().parent.parent / "spiders" / "marketplaces" /
               "tradehub.yaml").read_text()
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "tradehub-noimg.yaml").write_text(
        profile.replace("name: tradehub", "name: tradehub-noimg", 1)
        + "images:\n  max: 0\n")
    db = tmp_path / "store.db"
    done = brandsweep(server, "crawl", "--campaign", "c", "--keyword", "velora",
                      "--marketplace", "tradehub-noimg", "--marketplaces", str(folder),
                      "--db", str(db), "--max-pages", "1", "--json")
    assert done.returncode == 0, done.stderr
    con = sqlite3.connect(db)
    assert con.execute("select count(*) from listings").fetchone()[0] > 0
    assert con.execute("select count(*) from listing_images").fetchone()[0] == 0
    assert not images_dir(db).exists()


def test_what_the_store_holds_the_crawl_stops_keeping(tmp_path: Path) -> None:
    sha, stored, broken = "a" * 64, "http://127.0.0.1:9/a.jpg", "http://127.0.0.1:9/b.jpg"

    async def check() -> None:
        Store(tmp_path / "store.db").migrate()  # as a sweep does before crawling
        pipeline = ImagesPipeline(str(tmp_path / "store.db"), tmp_path / "photos")
        pipeline.crawler = cast(Crawler, SimpleNamespace(stats=None))
        loop = asyncio.get_running_loop()
        for url, result in ((stored, (sha, "ok")), (broken, (None, "failed: HTTP 404"))):
            pipeline._photos[url] = loop.create_future()
            pipeline._photos[url].set_result(result)
        pipeline._listings.update({("bazaar", "1"), ("bazaar", "2"), ("bazaar", "3")})
        pipeline._pending_photos.append((
            {"sha256": sha, "url": stored, "content_type": "image/jpeg", "width": 8,
             "height": 8, "bytes": 10, "file": f"{sha}.jpg", "thumbnail": f"thumbs/{sha}.jpg",
             "fetched_at": now()}, []))
        pipeline._link(("bazaar", "1"), 0, stored, sha, "ok")
        pipeline._link(("bazaar", "2"), 0, broken, None, "failed: HTTP 404")
        pipeline.flush()
        # linked listings and stored photos are the store's to answer for now
        assert pipeline._listings == {("bazaar", "3")}
        assert set(pipeline._photos) == {broken}  # not fetched again in this crawl
        assert await pipeline._photo(stored) == (sha, "ok")  # from the store, no fetch
        assert pipeline.store.has_images("bazaar", "1")

    asyncrun.run(check())
