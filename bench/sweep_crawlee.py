"""Benchmark: a browser sweep of shopfront, brandsweep against crawlee-python.

The same search pages of the single-page app (bench/sweep_browser.py's keywords: case
variants of the brand searches, each a full list of results to scroll through), in the same
Chromium binary (``brandsweep browser`` names it; ``BRANDSWEEP_CHROMIUM`` picks another),
four pages at once in each (shopfront's ``politeness.concurrency``), each crawler in a
process of its own, rounds interleaved. Every crawler must collect the same number of
cards; the script stops if they differ.

- brandsweep: ``brandsweep crawl --marketplace shopfront``; seconds from its own crawl
  stats, as in bench/sweep_browser.py. It does more than crawlee is asked to: it also
  fetches, hashes and stores the first photo of each new listing, stores every listing
  and tries each search page over HTTP first (``render: auto``); "brandsweep without
  photos" is the same crawl with the profile's ``images.max: 0``, for like for like.
- crawlee ``PlaywrightCrawler``: crawlee's own recipe for an infinite list (the crawling
  context's ``infinite_scroll()``, which scrolls until no request has left the page for a
  few seconds), images and fonts blocked with its ``block_requests`` (brandsweep blocks
  them too), its default fingerprints and storage. Seconds around ``crawler.run()``.
- crawlee ``AdaptivePlaywrightCrawler`` (parsel for static pages): the same handler; on
  this app the static HTML has no cards, so it learns to use the browser.
- for information, ``PlaywrightCrawler`` with brandsweep's own scroll loop
  (``crawler.browser.settle``) in its handler: how much of the difference is the scrolling
  and how much the crawler around it.

Offline: crawlee launches the binary it is given (no browser download); its fingerprints
come from the ``apify_fingerprint_datapoints`` package installed with it (browserforge
needs no download since 1.2); it sends no telemetry; its HTTP client (the adaptive crawler's
static side) only talks to the fixture server; the Public Suffix List it downloads on first
use is only asked for by same-domain link enqueueing, which this bench does not use (and a
host that is an IP address never needs it). Storage goes to a temporary folder.

Target: brandsweep at least 1.5x crawlee's PlaywrightCrawler pages/s.

    .venv/bin/python bench/sweep_crawlee.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sweep_browser import KEYWORDS, ours, result_of

from crawler.browser.chromium import LAUNCH_ARGS, find_chromium
from fixtures.server import FixtureServer

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CONCURRENCY = 4  # shopfront's politeness.concurrency, which brandsweep uses
CARD = "article.product-tile"
READ_CARDS = f"""() => [...document.querySelectorAll({json.dumps(CARD)})].map((c) => ({{
  id: c.getAttribute("data-product-id"),
  title: c.querySelector(".product-tile__name")?.textContent ?? null,
  price: c.querySelector(".product-tile__price")?.textContent ?? null,
  seller: c.querySelector(".seller-name")?.textContent ?? null}}))"""
# what brandsweep's browser sweep does not load either (images, fonts, media)
BLOCKED = [".jpg", ".jpeg", ".png", ".webp", ".gif", ".svg", ".woff", ".woff2", ".ttf",
           ".mp4", ".webm"]
KINDS = {"no-photos": "brandsweep without photos",
         "playwright": "crawlee PlaywrightCrawler",
         "adaptive": "crawlee AdaptivePlaywrightCrawler",
         "playwright+settle": "crawlee PlaywrightCrawler, brandsweep's scroll loop"}


async def crawl(kind: str, base: str, keywords: list[str]) -> dict[str, Any]:
    """One crawlee run over the search pages: pages handled, cards read, seconds."""
    from crawlee import ConcurrencySettings, Request
    from crawlee.crawlers import (
        AdaptivePlaywrightCrawler,
        AdaptivePlaywrightCrawlingContext,
        PlaywrightCrawler,
        PlaywrightCrawlingContext,
        PlaywrightPreNavCrawlingContext,
    )

    cards = 0
    browser = {"browser_type": "chromium", "headless": True,
               "browser_launch_options": {"executable_path": find_chromium(),
                                          "args": list(LAUNCH_ARGS),
                                          "chromium_sandbox": False}}
    common: dict[str, Any] = {
        "concurrency_settings": ConcurrencySettings(
            min_concurrency=CONCURRENCY, desired_concurrency=CONCURRENCY,
            max_concurrency=CONCURRENCY),
        "max_request_retries": 0,  # a failure must show, not be retried into the timing
        "configure_logging": False,
    }
    crawler: Any
    if kind == "adaptive":
        crawler = AdaptivePlaywrightCrawler.with_parsel_static_parser(
            playwright_crawler_specific_kwargs=browser, **common)

        @crawler.pre_navigation_hook(playwright_only=True)
        async def block_adaptive(context: Any) -> None:
            await context.block_requests(url_patterns=BLOCKED)

        @crawler.router.default_handler
        async def adaptive(context: AdaptivePlaywrightCrawlingContext) -> None:
            nonlocal cards
            page = context.page  # static HTML: AdaptiveContextError, so the browser goes
            await page.wait_for_selector(f"{CARD}, .empty-state")
            await context.infinite_scroll()
            found = await page.evaluate(READ_CARDS)
            await context.push_data(found)
            cards += len(found)
    else:
        crawler = PlaywrightCrawler(**browser, **common)

        @crawler.pre_navigation_hook
        async def block(context: PlaywrightPreNavCrawlingContext) -> None:
            await context.block_requests(url_patterns=BLOCKED)

        settle_with: Any = None
        if kind == "playwright+settle":
            from crawler.browser.settle import settle
            from crawler.profiles import loading

            profile = loading.load_profiles()["shopfront"]
            settle_with = (settle, profile)

        @crawler.router.default_handler
        async def handler(context: PlaywrightCrawlingContext) -> None:
            nonlocal cards
            if settle_with is not None:
                run, profile = settle_with
                await run(context.page, profile, profile.search.pagination.max_pages)
            else:
                await context.page.wait_for_selector(f"{CARD}, .empty-state")
                await context.infinite_scroll()
            found = await context.page.evaluate(READ_CARDS)
            await context.push_data(found)
            cards += len(found)

    # crawlee's unique keys fold the case of a URL: these differ only in case, on purpose
    requests = [Request.from_url(url, unique_key=url) for url in
                (f"{base}/shopfront/search?q={quote_plus(k)}" for k in keywords)]
    started = time.perf_counter()
    stats = await crawler.run(requests)
    seconds = time.perf_counter() - started
    return {"pages": stats.requests_finished, "failed": stats.requests_failed,
            "cards": cards, "seconds": seconds}


def without_photos(tmp: Path) -> Path:
    """A folder with shopfront's profile fetching no listing photos, as crawlee does not."""
    folder = tmp / "no-photos"
    folder.mkdir(exist_ok=True)
    text = (ROOT / "spiders" / "marketplaces" / "shopfront.yaml").read_text()
    (folder / "shopfront.yaml").write_text(text + "\nimages:\n  max: 0\n")
    return folder


def brandsweep(url: str, tmp: Path, name: str, photos: bool) -> tuple[int, int, float]:
    """``brandsweep crawl`` of the keywords: pages, cards, seconds (its crawl stats)."""
    if photos:
        return result_of(ours(url, tmp, name, KEYWORDS))
    args = [str(BIN / "brandsweep"), "crawl", "--campaign", "bench", "--marketplace",
            "shopfront", "--db", str(tmp / f"{name}.db"), "--json", "--marketplaces",
            str(without_photos(tmp))]
    for k in KEYWORDS:
        args += ["--keyword", k]
    return result_of(subprocess.Popen(args, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, text=True,
                                      env=dict(os.environ, BRANDSWEEP_FIXTURE_URL=url)))


def cpu_seconds() -> float:
    """User + system CPU seconds of every finished, waited-for descendant so far (the
    crawler's process, its Playwright driver and Chromium's processes)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def theirs(kind: str, base: str, tmp: Path, n: int) -> tuple[int, int, float]:
    """Run ``crawl`` in a process of its own: pages, cards, seconds."""
    out = tmp / f"{kind}{n}.json"
    storage = tmp / f"storage-{kind}{n}"
    done = subprocess.run([sys.executable, __file__, "--crawlee", kind, "--base", base,
                           "--out", str(out)], capture_output=True, text=True, env=dict(
                               os.environ, BRANDSWEEP_FIXTURE_URL=base,
                               CRAWLEE_STORAGE_DIR=str(storage),
                               CRAWLEE_LOG_LEVEL="WARNING"))
    assert done.returncode == 0, (kind, done.returncode, done.stderr[-3000:])
    got = json.loads(out.read_text())
    assert got["failed"] == 0 and got["pages"] == len(KEYWORDS), got
    return int(got["pages"]), int(got["cards"]), float(got["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kinds", default=",".join(KINDS),
                        help=f"crawlee runs to compare, of {', '.join(KINDS)}")
    parser.add_argument("--crawlee", choices=[k for k in KINDS if k != "no-photos"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.crawlee:  # the child process of ``theirs``
        got = asyncio.run(crawl(args.crawlee, args.base, KEYWORDS))
        Path(args.out).write_text(json.dumps(got))
        return
    kinds = [k for k in args.kinds.split(",") if k]
    assert kinds and set(kinds) <= set(KINDS), kinds
    tmp = Path(tempfile.mkdtemp())
    print(f"browser (all crawlers): {find_chromium()}; crawlee {version('crawlee')}, "
          f"playwright {version('playwright')}, scrapy-playwright "
          f"{version('scrapy-playwright')}; {len(KEYWORDS)} search pages, {CONCURRENCY} "
          f"at once")
    rates: dict[str, list[float]] = {k: [] for k in ["brandsweep", *kinds]}
    with FixtureServer(port=0, hard=False, seed=7) as server:
        for n in range(args.rounds):
            order = ["brandsweep", *kinds]
            order = order[n % len(order):] + order[:n % len(order)]  # who goes first turns
            seen, cpu = {}, {}
            for who in order:
                before = cpu_seconds()
                if who in ("brandsweep", "no-photos"):
                    seen[who] = brandsweep(server.url, tmp, f"{who}{n}", who == "brandsweep")
                else:
                    seen[who] = theirs(who, server.url, tmp, n)
                cpu[who] = cpu_seconds() - before
            counts = {who: cards for who, (_, cards, _) in seen.items()}
            assert len(set(counts.values())) == 1, f"round {n + 1}: cards differ: {counts}"
            parts = []
            for who in ["brandsweep", *kinds]:
                pages, cards, secs = seen[who]
                rates[who].append(pages / secs)
                parts.append(f"{KINDS.get(who, who)} {pages} pages, {cards} cards in "
                             f"{secs:.1f}s = {pages / secs:.2f} pages/s ({cpu[who]:.0f} s "
                             f"CPU, process start to exit)")
            print(f"round {n + 1}: " + "; ".join(parts))
    for who, rs in rates.items():
        mid = statistics.median(rs)
        print(f"{KINDS.get(who, who)}: median {mid:.2f} pages/s, rounds within "
              f"{(max(rs) - min(rs)) / mid * 100:.0f}% of it (max - min)")
    for kind in (k for k in kinds if k != "no-photos"):
        ratios = sorted(o / t for o, t in zip(rates["brandsweep"], rates[kind], strict=True))
        ratio = statistics.median(ratios)
        verdict = (f"; target >= 1.5: {'met' if ratio >= 1.5 else 'MISSED'}"
                   if kind == "playwright" else "")
        print(f"pages/s brandsweep / {KINDS[kind]}: median {ratio:.2f} (range "
              f"{ratios[0]:.2f}-{ratios[-1]:.2f}{verdict})")


if __name__ == "__main__":
    main()
