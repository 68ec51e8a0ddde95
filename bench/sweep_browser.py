"""Benchmark (b): a browser sweep of shopfront, brandsweep against scrapy-playwright with
its default settings, and the memory of the process tree over 1,000 browser pages.

Throughput: both load each search page of the single-page app in the same Chromium binary
(``brandsweep browser`` names it; ``BRANDSWEEP_CHROMIUM`` picks another) and scroll until
every result is on the page, for the same keywords, side by side. brandsweep blocks images,
fonts and media, and scrolls until the list stops growing or the marketplace shows its end
marker; the baseline is scrapy-playwright's documented scroll recipe. Pages/s come from
each crawler's own start/finish stats. Target: brandsweep at least 2x the baseline.

Memory: a 1,000-page brandsweep crawl (first screen of results per page), sampling the
resident memory of the crawler and all its children (Chromium) twice a second. Targets:
peak under 1.5 GB, and no growth after the first 200 pages.

    .venv/bin/python bench/sweep_browser.py [--rounds 3] [--pages 1000]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawler.browser.chromium import find_chromium
from fixtures.server import FixtureServer

BIN = Path(sys.executable).parent
BRAND_KEYWORDS = ["acme", "velora", "acme headphones", "acme backpack", "velora handbag",
                  "velora sunglasses"]


def case_variants(words: list[str], n: int) -> list[str]:
    """``n`` distinct spellings: the marketplace folds case, so each is the same search
    at a different URL, which lets a crawl load many full result pages."""
    variants = ("".join(c.upper() if (i >> j) & 1 else c for j, c in enumerate(word))
                for i in range(2 ** 12) for word in words)
    return list(itertools.islice(dict.fromkeys(variants), n))


KEYWORDS = case_variants(BRAND_KEYWORDS, 24)


def ours(url: str, tmp: Path, name: str, keywords: list[str], max_pages: int | None = None
         ) -> subprocess.Popen[str]:
    args = [str(BIN / "brandsweep"), "crawl", "--campaign", "bench", "--marketplace",
            "shopfront", "--db", str(tmp / f"{name}.db"), "--json"]
    if max_pages:
        args += ["--max-pages", str(max_pages)]
    for k in keywords:
        args += ["--keyword", k]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=dict(os.environ, BRANDSWEEP_FIXTURE_URL=url))


def result_of(proc: subprocess.Popen[str]) -> tuple[int, int, float]:
    """Browser pages, listing cards read on them, crawl seconds."""
    out, _ = proc.communicate()
    m = json.loads(out)["marketplaces"]["shopfront"]
    assert m["status"] == "ok", m
    return m["pages"]["browser"], m["cards"], m["seconds"]


def baseline(url: str, tmp: Path, n: int) -> tuple[int, int, float]:
    out = tmp / f"base{n}.json"
    subprocess.run([str(BIN / "scrapy"), "runspider",
                    str(Path(__file__).with_name("baseline_shopfront.py")), "-a",
                    f"base={url}", "-a", f"keywords={','.join(KEYWORDS)}", "-a", f"out={out}"],
                   check=True, capture_output=True)
    data = json.loads(out.read_text())
    return int(data["pages"]), int(data["items"]), float(data["seconds"])


def batches_served(server: FixtureServer) -> int:
    """Result batches the shopfront's search API has answered so far (every attempt)."""
    attempts = dict(server.app.plan._attempts)
    return sum(n for url, n in attempts.items() if url.startswith("/shopfront/api/search"))


def tree_memory(pid: int) -> tuple[int, int]:
    """(PSS, RSS) bytes of ``pid`` and every descendant. PSS splits pages shared between
    processes (Chromium's processes share most of theirs), so it sums fairly; RSS counts a
    shared page once per process."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    pss = rss = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith(("Pss:", "Rss:")):
                        kib = int(line.split()[1]) * 1024
                        if line.startswith("Pss:"):
                            pss += kib
                        else:
                            rss += kib
        except (OSError, ValueError):
            continue
    return pss, rss


def memory_run(url: str, server: FixtureServer, tmp: Path, pages: int) -> None:
    keywords = case_variants(BRAND_KEYWORDS, pages)
    proc = ours(url, tmp, "memory", keywords, max_pages=1)
    samples: list[tuple[int, int]] = []  # (pages served so far, PSS bytes)
    rss_peak = 0

    def served() -> int:
        return sum(1 for u in list(server.app.plan._attempts) if u.startswith(
            "/shopfront/search"))

    def sample() -> None:
        nonlocal rss_peak
        while proc.poll() is None:
            pss, rss = tree_memory(proc.pid)
            samples.append((served(), pss))
            rss_peak = max(rss_peak, rss)
            time.sleep(0.5)

    sampler = threading.Thread(target=sample)
    sampler.start()
    done_pages, _cards, seconds = result_of(proc)
    sampler.join()
    peak = max(b for _, b in samples)
    early = max((b for p, b in samples if p <= 200), default=0)
    late = [b for p, b in samples if p > 200]
    print(f"memory: {done_pages} browser pages in {seconds:.0f}s; peak PSS of the process "
          f"tree {peak / 2**20:.0f} MiB (target < 1536 MiB: "
          f"{'met' if peak < 1.5 * 2**30 else 'MISSED'}); peak RSS summed over its "
          f"processes, shared pages counted in each: {rss_peak / 2**20:.0f} MiB")
    if late:
        first_late = [b for p, b in samples if 200 < p <= 400]
        last = [b for p, b in samples if p > pages - 200]
        print(f"  peak up to page 200: {early / 2**20:.0f} MiB; pages 200-400: "
              f"{max(first_late, default=0) / 2**20:.0f} MiB; last 200 pages: "
              f"{max(last, default=0) / 2**20:.0f} MiB; growth after page 200: "
              f"{(max(late) - early) / 2**20:+.0f} MiB")
        windows = [max((b for p, b in samples if lo < p <= lo + 200), default=0)
                   for lo in range(0, pages, 200)]
        print("  peak per 200 pages: " + ", ".join(f"{b / 2**20:.0f}" for b in windows)
              + " MiB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pages", type=int, default=1000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    print(f"browser (both crawlers): {find_chromium()}")
    with FixtureServer(port=0, hard=False, seed=7) as server:
        rows = []
        for n in range(args.rounds):
            before = batches_served(server)
            b_pages, b_items, b_secs = baseline(server.url, tmp, n)
            b_batches = batches_served(server) - before
            before = batches_served(server)
            o_pages, o_cards, o_secs = result_of(ours(server.url, tmp, f"ours{n}",
                                                      KEYWORDS))
            o_batches = batches_served(server) - before
            rows.append((o_pages / o_secs, b_pages / b_secs, o_batches / o_secs,
                         b_batches / b_secs))
            print(f"round {n + 1}: brandsweep {o_pages} pages ({o_batches} result batches, "
                  f"{o_cards} cards) in {o_secs:.1f}s = {o_pages / o_secs:.2f} pages/s; "
                  f"scrapy-playwright defaults {b_pages} pages ({b_batches} result batches, "
                  f"{b_items} cards) in {b_secs:.1f}s = {b_pages / b_secs:.2f} pages/s")
        ratios = sorted(r[0] / r[1] for r in rows) or [0.0]
        ratio = statistics.median(ratios)
        batch_ratios = sorted(r[2] / r[3] for r in rows) or [0.0]
        if rows:
            print(f"pages/s (page loads): median ratio {ratio:.2f} (range {ratios[0]:.2f}-"
                  f"{ratios[-1]:.2f}; target >= 2: {'met' if ratio >= 2 else 'MISSED'})")
            print(f"result batches/s (the 20-listing pages of results the marketplace served "
                  f"while scrolling; the baseline's recipe stops before the end of some "
                  f"lists): median ratio {statistics.median(batch_ratios):.2f} (range "
                  f"{batch_ratios[0]:.2f}-{batch_ratios[-1]:.2f})")
        if args.pages:
            memory_run(server.url, server, tmp, args.pages)


if __name__ == "__main__":
    main()
