"""Benchmark (a): an HTTP sweep, brandsweep against bare Scrapy.

Both crawl the same search pages (the same keywords, following the same next links) of the
fixture marketplace served by this process, side by side, several rounds alternating.
brandsweep does everything a sweep does (profile extraction, normalisation, the SQLite
store, health checks, AutoThrottle); the baseline has no pipelines. Pages per second are
taken from each crawler's own start/finish stats, so process start-up is excluded.
Target: brandsweep at least 0.7 of the baseline's pages/s, over a window long enough that
the rounds agree within +-15% (``--window N`` searches each keyword in N spellings the
marketplace reads alike, ``acme``, ``ACME``, ``Acme``: N times the pages per round).

    .venv/bin/python bench/sweep_http.py [--rounds 5] [--window 3]

``--scale N`` (``make bench`` passes 20) sweeps bazaar, megamart and tradehub of a
``--scale N`` fixture world instead: every listing of the three (29,160 at scale 20),
found by the brands' keywords and a few product words, each marketplace's search pages
walked to the end (the profiles' ``max_pages`` raised: a profile caps the pages and
``--max-pages`` only lowers it) and megamart's detail pages fetched, against
``bench/baseline_http.py``'s bare Scrapy spiders fetching the same pages, both without
listing photos (like for like). A round is ~13,000 pages at scale 20, so the rounds
should agree within +-10%; target brandsweep >= 0.8 of the baseline's pages/s. It also
measures the sweep process's peak RSS (the kernel's high-water mark, from ``wait4``) at
about 10,000 listings (``--rss-scale``, 7) and at scale N, target within 10%.

How the figure is kept honest: both tools first run one unmeasured warm-up round (the
whole sweep: the server's caches, the OS's file cache and Python's bytecode warm for both
alike; the server's catalogue is frozen out of the garbage collector); the rounds are
paired and their order alternates (baseline first in odd rounds, brandsweep first in even
ones), so a drift in the machine's load falls on both;
medians are reported with each tool's spread. Besides wall pages/s (the target), each
process's CPU seconds per page (``wait4``'s user + system) and the fixture server's (this
process's, which serves) are printed: on a machine of 2 cores the server and the crawler
share them, so when the load average (printed per round) is high the wall figure says
more about the machine than about the crawler, and CPU per page is the steadier figure.

    .venv/bin/python bench/sweep_http.py --scale 20 [--rounds 3] [--rss-scale 7]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fixtures.brands import BRANDS  # noqa: E402  (after the path above)
from fixtures.catalogue import PAGE_SIZE  # noqa: E402
from fixtures.server import FixtureServer  # noqa: E402

BIN = Path(sys.executable).parent
# broad words as well as the brands, so each round walks a few hundred result pages
KEYWORDS = ["acme", "velora", "acme headphones", "acme backpack", "velora handbag",
            "velora sunglasses", "headphones", "backpack", "wireless", "leather",
            "sunglasses", "handbag", "wallet", "pulse", "trailpack", "siena", "lido",
            "replica", "aaa", "copy", "new", "bag", "case", "for", "with", "pro", "mini",
            "buds", "vector", "volt", "portofino", "capri", "amalfi", "riviera", "tote",
            "scarf", "silk", "polarized", "smartwatch", "power", "bank", "hiking", "mirror",
            "quality", "1", "style", "pre", "owned", "authentic", "official", "sale"]


def spellings(window: int) -> list[str]:
    """The keywords, each in ``window`` spellings (distinct URLs, the same results)."""
    forms = (str, str.upper, str.title, str.swapcase)
    return list(dict.fromkeys(f(k) for f in forms[:max(1, window)] for k in KEYWORDS))


def spread(values: list[float]) -> float:
    """How far the rounds lie from their median, as a share of it."""
    mid = statistics.median(values)
    return max(abs(v - mid) for v in values) / mid


def without_photos(tmp: Path) -> Path:
    """A folder with bazaar's profile fetching no listing photos, as the baseline does."""
    folder = tmp / "no-photos"
    folder.mkdir(exist_ok=True)
    text = (ROOT / "spiders" / "marketplaces" / "bazaar.yaml").read_text()
    (folder / "bazaar.yaml").write_text(text + "\nimages:\n  max: 0\n")
    return folder


def ours(url: str, tmp: Path, n: int, keywords: list[str], photos: bool = True
         ) -> tuple[int, float]:
    args = [str(BIN / "brandsweep"), "crawl", "--campaign", "bench", "--marketplace",
            "bazaar", "--db", str(tmp / f"ours{n}{'' if photos else '-np'}.db"), "--json"]
    if not photos:
        args += ["--marketplaces", str(without_photos(tmp))]
    for k in keywords:
        args += ["--keyword", k]
    done = subprocess.run(args, capture_output=True, text=True, check=True,
                          env=dict(os.environ, BRANDSWEEP_FIXTURE_URL=url))
    m = json.loads(done.stdout)["marketplaces"]["bazaar"]
    assert m["status"] == "ok", m
    return m["pages"]["http"], m["seconds"]


def baseline(url: str, tmp: Path, n: int, keywords: list[str]) -> tuple[int, float]:
    out = tmp / f"base{n}.json"
    subprocess.run([str(BIN / "scrapy"), "runspider",
                    str(Path(__file__).with_name("baseline_bazaar.py")), "-a", f"base={url}",
                    "-a", f"keywords={','.join(keywords)}", "-a", f"out={out}"],
                   check=True, capture_output=True)
    data = json.loads(out.read_text())
    return int(data["pages"]) - 1, float(data["seconds"])  # minus robots.txt


# --scale: the brands' keywords, and words of the product titles no brand keyword finds,
# so that a sweep reaches every listing of the three marketplaces
SCALE_MARKETS = ("bazaar", "megamart", "tradehub")
SCALE_KEYWORDS = [k for b in BRANDS.values() for k in b.keywords] + [
    "headphones", "earbuds", "backpack", "handbag", "sunglasses", "bottle", "yoga",
    "tracker", "charger", "tote", "wallet", "scarf", "lantern"]


def unlimited_profiles(tmp: Path) -> Path:
    """The three profiles as shipped, walking up to 1,000 result pages per keyword (the
    model's limit) and fetching no listing photos, as the baseline does."""
    from ruamel.yaml import YAML

    yaml = YAML()
    folder = tmp / "unlimited"
    folder.mkdir(exist_ok=True)
    for name in SCALE_MARKETS:
        doc = yaml.load((ROOT / "spiders" / "marketplaces" / f"{name}.yaml").read_text())
        doc["search"]["pagination"]["max_pages"] = 1000
        doc["images"] = {"max": 0}
        with (folder / f"{name}.yaml").open("w") as f:
            yaml.dump(doc, f)
    return folder


def measured(args: list[str], tmp: Path, env: dict[str, str]) -> tuple[str, int, float]:
    """Run ``args``; its stdout, its peak RSS in bytes (``wait4``: the kernel's
    high-water mark of the process, and of any child it waited for) and the CPU seconds
    it used (user + system)."""
    with (tmp / "out.txt").open("w+") as out, (tmp / "err.txt").open("w+") as err:
        proc = subprocess.Popen(args, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            raise SystemExit(f"{args[0]} exited {proc.returncode}: {err.read()[-2000:]}")
        # ru_maxrss is in KiB on Linux
        return out.read(), usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime


def serving() -> float:
    """CPU seconds this process (the fixture server's threads, mostly) has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def ours_scaled(url: str, tmp: Path, n: int, profiles: Path) -> dict[str, Any]:
    args = [str(BIN / "brandsweep"), "crawl", "--campaign", "bench", "--db",
            str(tmp / f"scaled{n}.db"), "--json", "--marketplaces", str(profiles)]
    for name in SCALE_MARKETS:
        args += ["--marketplace", name]
    for k in SCALE_KEYWORDS:
        args += ["--keyword", k]
    served = serving()
    out, rss, cpu = measured(args, tmp, dict(os.environ, BRANDSWEEP_FIXTURE_URL=url))
    markets = json.loads(out)["marketplaces"]
    for name, m in markets.items():
        assert m["status"] == "ok", (name, m)
    return {"pages": sum(m["pages"]["http"] + m["detail_pages"] for m in markets.values()),
            # the crawlers run side by side: the sweep lasts as long as the slowest
            "seconds": max(m["seconds"] for m in markets.values()), "rss": rss,
            "cpu": cpu, "server_cpu": serving() - served,
            "listings": {k: m["listings"] for k, m in markets.items()}}


def baseline_scaled(url: str, tmp: Path, n: int) -> dict[str, Any]:
    out = tmp / f"base-scaled{n}.json"
    args = [sys.executable, str(Path(__file__).with_name("baseline_http.py")), "--base", url,
            "--out", str(out)]
    for k in SCALE_KEYWORDS:
        args += ["--keyword", k]
    served = serving()
    _, rss, cpu = measured(args, tmp, dict(os.environ))
    markets = json.loads(out.read_text())
    return {"pages": sum(m["pages"] for m in markets.values()),
            "seconds": max(m["seconds"] for m in markets.values()), "rss": rss,
            "cpu": cpu, "server_cpu": serving() - served,
            "listings": {k: m["listings"] for k, m in markets.items()}}


def load() -> str:
    """The 1-minute load average, and whether it is low enough for a firm figure."""
    one = os.getloadavg()[0]
    return f"load {one:.1f}{'' if one <= 2.5 else ' (busy machine)'}"


def describe(who: str, r: dict[str, Any]) -> str:
    mib = 1024 * 1024
    return (f"{who} {r['pages']:,} pages in {r['seconds']:.1f}s = "
            f"{r['pages'] / r['seconds']:.0f} pages/s, {r['cpu'] / r['pages'] * 1000:.1f} "
            f"ms CPU/page (server {r['server_cpu'] / r['pages'] * 1000:.1f}), peak RSS "
            f"{r['rss'] / mib:.0f} MiB")


def expected(server: FixtureServer) -> tuple[dict[str, int], int]:
    """Per marketplace, the listings the keywords find; and the pages a complete sweep
    fetches: every search page, and a detail page per megamart listing."""
    catalogue = server.app.catalogue
    found: dict[str, int] = {}
    pages = 0
    for name in SCALE_MARKETS:
        ids: set[str] = set()
        for k in SCALE_KEYWORDS:
            hits = catalogue.search(name, k)  # also warms the server's search cache
            ids |= {x.listing_id for x in hits}
            pages += max(1, math.ceil(len(hits) / PAGE_SIZE[name]))
        found[name] = len(ids)
    return found, pages + found["megamart"]


def scaled(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp())
    profiles = unlimited_profiles(tmp)
    mib = 1024 * 1024
    rss_small: dict[str, Any] | None = None
    if args.rss_scale:
        with FixtureServer(port=0, seed=7, scale=args.rss_scale) as server:
            want, _ = expected(server)
            rss_small = ours_scaled(server.url, tmp, -1, profiles)
            assert rss_small["listings"] == want, (rss_small["listings"], want)
        print(f"scale {args.rss_scale}: brandsweep swept {sum(want.values()):,} listings "
              f"({rss_small['pages']:,} pages): peak RSS {rss_small['rss'] / mib:.0f} MiB")
    started = time.perf_counter()
    with FixtureServer(port=0, seed=7, scale=args.scale) as server:
        generated = time.perf_counter() - started
        total = sum(1 for x in server.app.catalogue.listings if x.marketplace in SCALE_MARKETS)
        want, pages = expected(server)
        print(f"scale {args.scale}: {len(server.app.catalogue.listings):,} listings "
              f"(generated in {generated:.1f} s), {total:,} on {', '.join(SCALE_MARKETS)}; "
              f"{len(SCALE_KEYWORDS)} keywords find {sum(want.values()):,}: a complete sweep "
              f"is {pages:,} pages")
        # the catalogue is long-lived: kept out of the collector's full passes, which
        # would otherwise walk it while the server serves the first round
        gc.collect()
        gc.freeze()
        if args.warmup:
            # a whole unmeasured round, in stores of their own: a first sweep of this
            # world ran 10-15% slower than the later ones for both tools
            base = baseline_scaled(server.url, tmp, -2)
            ours = ours_scaled(server.url, tmp, -2, profiles)
            print(f"warm-up round, unmeasured ({load()}): {describe('brandsweep', ours)}; "
                  f"{describe('bare Scrapy', base)}")
        rows = []
        for n in range(args.rounds):
            before = load()
            if n % 2:  # alternate who goes first, so a drift in the load falls on both
                ours = ours_scaled(server.url, tmp, n, profiles)
                base = baseline_scaled(server.url, tmp, n)
            else:
                base = baseline_scaled(server.url, tmp, n)
                ours = ours_scaled(server.url, tmp, n, profiles)
            for who, r in (("brandsweep", ours), ("bare Scrapy", base)):
                assert r["listings"] == want, (who, r["listings"], want)  # every listing
            rows.append((ours, base))
            print(f"round {n + 1} ({'brandsweep' if n % 2 else 'bare Scrapy'} first; "
                  f"{before}, after {load()}): {describe('brandsweep', ours)}; "
                  f"{describe('bare Scrapy', base)}")
    rate_o = [o["pages"] / o["seconds"] for o, _ in rows]
    rate_b = [b["pages"] / b["seconds"] for _, b in rows]
    ratios = [o / b for o, b in zip(rate_o, rate_b, strict=True)]
    ratio = statistics.median(ratios)
    agree = max(spread(rate_o), spread(rate_b))
    print(f"HTTP sweep at scale {args.scale} ({', '.join(SCALE_MARKETS)}, no photos, median "
          f"of {args.rounds} paired rounds): brandsweep {statistics.median(rate_o):.0f} "
          f"pages/s, bare Scrapy {statistics.median(rate_b):.0f} pages/s; ratio {ratio:.2f} "
          f"(range {min(ratios):.2f}-{max(ratios):.2f}; target >= 0.80: "
          f"{'met' if ratio >= 0.8 else 'MISSED'}); rounds agree within +-{agree:.0%} "
          f"(brandsweep +-{spread(rate_o):.0%}, bare Scrapy +-{spread(rate_b):.0%}; target "
          f"+-10%: {'met' if agree <= 0.10 else 'MISSED'})")
    cpu_o = [o["cpu"] / o["pages"] * 1000 for o, _ in rows]
    cpu_b = [b["cpu"] / b["pages"] * 1000 for _, b in rows]
    srv = [r["server_cpu"] / r["pages"] * 1000 for row in rows for r in row]
    print(f"CPU per page (median, spread): brandsweep {statistics.median(cpu_o):.1f} ms "
          f"(+-{spread(cpu_o):.0%}), bare Scrapy {statistics.median(cpu_b):.1f} ms "
          f"(+-{spread(cpu_b):.0%}): bare Scrapy's CPU per page is "
          f"{statistics.median(cpu_b) / statistics.median(cpu_o):.2f} of brandsweep's; the "
          f"fixture server used {statistics.median(srv):.1f} ms per page serving either "
          f"(on {os.cpu_count()} cores; {load()} at the end)")
    if rss_small is not None:
        big = max(o["rss"] for o, _ in rows)
        grew = big / rss_small["rss"]
        print(f"peak RSS of the brandsweep sweep: {rss_small['rss'] / mib:.0f} MiB at "
              f"{sum(rss_small['listings'].values()):,} listings (scale {args.rss_scale}), "
              f"{big / mib:.0f} MiB at {sum(want.values()):,} (scale {args.scale}, worst "
              f"round); ratio {grew:.2f} (target within 10%: "
              f"{'met' if grew <= 1.10 else 'MISSED'})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--window", type=int, default=3, choices=range(1, 5))
    parser.add_argument("--scale", type=int, default=0,
                        help="sweep bazaar, megamart and tradehub of a world this many "
                             "times the 1x one (make bench: 20); 0: bazaar of the 1x world")
    parser.add_argument("--no-warmup", dest="warmup", action="store_false",
                        help="with --scale: skip the unmeasured warm-up round of each tool")
    parser.add_argument("--rss-scale", type=int, default=7,
                        help="with --scale: the smaller world whose peak RSS is compared "
                             "(7: ~10,000 listings); 0: skip")
    args = parser.parse_args()
    if args.scale:
        args.rounds = args.rounds or 3
        scaled(args)
        return
    args.rounds = args.rounds or 5
    keywords = spellings(args.window)
    tmp = Path(tempfile.mkdtemp())
    with FixtureServer(port=0, hard=False, seed=7) as server:
        rows = []
        for n in range(args.rounds):
            b_pages, b_secs = baseline(server.url, tmp, n, keywords)
            o_pages, o_secs = ours(server.url, tmp, n, keywords)
            p_pages, p_secs = ours(server.url, tmp, n, keywords, photos=False)
            rows.append((o_pages / o_secs, b_pages / b_secs, p_pages / p_secs))
            print(f"round {n + 1}: brandsweep {o_pages} pages in {o_secs:.2f}s = "
                  f"{o_pages / o_secs:.0f} pages/s (without photos {p_secs:.2f}s = "
                  f"{p_pages / p_secs:.0f} pages/s); bare Scrapy {b_pages} pages in "
                  f"{b_secs:.2f}s = {b_pages / b_secs:.0f} pages/s")
    for label, i in (("a sweep as it runs (first photo of each new listing fetched, "
                      "hashed and stored)", 0), ("like for like (no photos, as the "
                                                 "baseline)", 2)):
        ratios = [r[i] / r[1] for r in rows]
        ratio = statistics.median(ratios)
        agree = max(spread([r[i] for r in rows]), spread([r[1] for r in rows]))
        print(f"{label}: median of {args.rounds} paired rounds ({len(keywords)} searches "
              f"each): brandsweep {statistics.median(r[i] for r in rows):.0f} pages/s, bare "
              f"Scrapy {statistics.median(r[1] for r in rows):.0f} pages/s; ratio "
              f"{ratio:.2f} (range {min(ratios):.2f}-{max(ratios):.2f}; target >= 0.70: "
              f"{'met' if ratio >= 0.7 else 'MISSED'}); rounds agree within +-{agree:.0%} "
              f"(target +-15%: {'met' if agree <= 0.15 else 'MISSED'})")


if __name__ == "__main__":
    main()
