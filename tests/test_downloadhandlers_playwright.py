"""The Playwright download handler: Playwright starts with the first browser page, a
request gets an idle page of its context, and the scrapy-playwright and asyncio members
it relies on are still there (scrapy-playwright is pinned exactly for them)."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from fixtures.server import FixtureServer
from tests import asyncrun

ROOT = Path(__file__).resolve().parent.parent

# one Twisted reactor per process: the handler runs in a process of its own
SCRIPT = """
import json, sys
from scrapy.utils.reactor import install_reactor
install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
from twisted.internet import reactor
from scrapy import Request, Spider, signals
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.test import get_crawler
from crawler.browser.chromium import launch_options
from crawler.downloadhandlers import rotation
from crawler.downloadhandlers.playwright import LazyPlaywrightDownloadHandler
from crawler.settings import DEFAULTS

url, chromium = sys.argv[1], sys.argv[2]
crawler = get_crawler(Spider, DEFAULTS | {
    "PLAYWRIGHT_LAUNCH_OPTIONS": launch_options(chromium, images=False),
    "BRANDSWEEP_BASE_URL": url, "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": 1})
crawler.spider = Spider.from_crawler(crawler, name="unit")
out = {}

async def main():
    handler = LazyPlaywrightDownloadHandler.from_crawler(crawler)
    await crawler.signals.send_catch_log_async(signals.engine_started)
    out["started_at_engine_start"] = handler.browser_provider.started
    contexts = rotation.for_crawler(crawler)
    first = Request(url + "/bazaar/", meta={"playwright": True, "playwright_include_page": True,
                                            "playwright_context": contexts.next_name()})
    response = await handler.download_request(first)
    out["status"] = response.status
    out["started_after_a_page"] = handler.browser_provider.started
    page = response.meta["playwright_page"]
    name = first.meta["playwright_context"]
    out["slots_full_with_a_page_open"] = handler.slots_full(name)
    out["slot_wanted"] = handler.slot_wanted(name)
    await contexts.release(page, name)  # kept idle for the next request of the context
    second = Request(url + "/bazaar/", meta={"playwright": True, "playwright_include_page": True,
                                             "playwright_context": contexts.next_name()})
    again = await handler.download_request(second)
    out["same_page_reused"] = again.meta["playwright_page"] is page and contexts.reused == 1
    await contexts.release(again.meta["playwright_page"], name, reusable=False)
    off = Request("http://refused.invalid/", meta={"playwright": True})
    try:
        await handler.download_request(off)
    except Exception as exc:
        out["elsewhere"] = type(exc).__name__
    await handler.close()

def done(result):
    if result is not None and hasattr(result, "getTraceback"):
        out["error"] = result.getTraceback()
    print(json.dumps(out))
    reactor.stop()

reactor.callWhenRunning(lambda: deferred_from_coro(main()).addBoth(done))
reactor.run()
"""


@pytest.mark.browser
def test_the_handler_starts_playwright_with_the_first_page_and_reuses_idle_pages(
        fixture_server: FixtureServer, chromium: str) -> None:
    env = dict(os.environ, BRANDSWEEP_FIXTURE_URL=fixture_server.url)
    done = subprocess.run([sys.executable, "-c", SCRIPT, fixture_server.url, chromium],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.splitlines()[-1])
    assert "error" not in out, out.get("error")
    assert out["started_at_engine_start"] is False
    assert out["status"] == 200 and out["started_after_a_page"] is True
    # one page slot per context here: the open page holds it, nobody waits for it
    assert out["slots_full_with_a_page_open"] is True and out["slot_wanted"] is False
    assert out["same_page_reused"] is True


def test_scrapy_playwright_is_the_pinned_version() -> None:
    pinned = next(line for line in (ROOT / "pyproject.toml").read_text().splitlines()
                  if '"scrapy-playwright==' in line)
    assert f'"scrapy-playwright=={version("scrapy-playwright")}"' in pinned


def test_the_scrapy_playwright_members_relied_on_still_exist() -> None:
    """``context_wrappers`` (name -> wrapper with the page slots' ``semaphore``) and the
    public hooks used instead of private ones: fails the day scrapy-playwright changes."""
    from scrapy_playwright.handler import BrowserContextWrapper, ScrapyPlaywrightDownloadHandler
    from scrapy_playwright.provider import PlaywrightBrowserProvider

    init = inspect.getsource(ScrapyPlaywrightDownloadHandler.__init__)
    assert "self.context_wrappers: Dict[str, BrowserContextWrapper] = {}" in init
    assert "PLAYWRIGHT_BROWSER_PROVIDER" in init
    fields = {f.name: f.type for f in dataclasses.fields(BrowserContextWrapper)}
    assert fields.get("semaphore") is asyncio.Semaphore
    create_page = inspect.getsource(ScrapyPlaywrightDownloadHandler._create_page)
    assert "await ctx_wrapper.semaphore.acquire()" in create_page
    for name in ("start", "launch_browser", "launch_persistent_context", "close"):
        assert inspect.iscoroutinefunction(getattr(PlaywrightBrowserProvider, name))
    # a page the request brings is used instead of a new one
    with_retry = inspect.getsource(ScrapyPlaywrightDownloadHandler
                                   ._download_request_with_retry)
    assert 'page = request.meta.get("playwright_page")' in with_retry


def test_asyncio_semaphores_still_keep_their_waiters() -> None:
    """``Semaphore._waiters``: nothing public says whether anyone waits for a slot."""

    async def check() -> tuple[bool, bool]:
        slots = asyncio.Semaphore(1)
        await slots.acquire()
        waiting = asyncio.ensure_future(slots.acquire())
        await asyncio.sleep(0)
        seen = any(not w.done() for w in slots._waiters or ())
        slots.release()
        await waiting
        slots.release()
        return seen, any(not w.done() for w in slots._waiters or ())

    assert asyncrun.run(check()) == (True, False)
