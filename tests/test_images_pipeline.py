"""Sweeps fetch each new listing's first photo through Scrapy, store it once by content
and keep its perceptual hashes."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.images.hashing import VIEWS
from crawler.pipelines.images import images_dir
from fixtures import images
from fixtures.server import FixtureServer
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
