"""Shared fixtures: the fixture marketplaces on a free loopback port, and real Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.error import HTTPError
from urllib.request import urlopen

import pytest

from crawler.browser.chromium import find_chromium, launch_options
from fixtures.catalogue import Catalogue
from fixtures.redisserver import RedisServerMissing, redis_server
from fixtures.server import FixtureServer


@dataclass
class Fetched:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        charset = "utf-8"
        ctype = self.headers.get("content-type", "")
        if "charset=" in ctype:
            charset = ctype.split("charset=")[1]
        return self.body.decode(charset)


def fetch(url: str, timeout: float = 10) -> Fetched:
    """GET ``url``; HTTP errors come back as a ``Fetched`` too, not as exceptions."""
    try:
        with urlopen(url, timeout=timeout) as r:
            return Fetched(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
    except HTTPError as e:
        return Fetched(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return Catalogue(7, hard=False)


@pytest.fixture(scope="session")
def fixture_server() -> Iterator[FixtureServer]:
    """The four fixture marketplaces, default seed, no faults."""
    with FixtureServer(port=0, hard=False, seed=7) as server:
        yield server


@pytest.fixture(scope="session")
def scaled_catalogue() -> Catalogue:
    """The catalogue ``scaled_server`` serves, generated on its own."""
    return Catalogue(7, hard=False, scale=3)


@pytest.fixture(scope="session")
def scaled_server() -> Iterator[FixtureServer]:
    """The fixture marketplaces at ``--scale 3`` (the easy world, default seed): three
    times the listings and result pages per keyword."""
    with FixtureServer(port=0, hard=False, seed=7, scale=3) as server:
        yield server


@pytest.fixture(scope="session")
def chromium() -> str:
    return find_chromium()


@pytest.fixture(scope="session")
def browser(chromium: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(**launch_options(chromium))  # type: ignore[arg-type]
        yield b
        b.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context()  # type: ignore[attr-defined]
    context.set_default_timeout(20_000)
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The session's redis-server (``redis_server``)."""
    try:
        with redis_server(tmp_path_factory.mktemp("redis")) as (_proc, url):
            yield url
    except RedisServerMissing as exc:
        pytest.fail(str(exc))
