"""Benchmark (a): an HTTP sweep of bazaar, brandsweep against a bare Scrapy spider.

Both crawl the same search pages (the same keywords, following the same next links) of the
fixture marketplace served by this process, side by side, several rounds alternating.
brandsweep does everything a sweep does (profile extraction, normalisation, the SQLite
store, health checks, AutoThrottle); the baseline has no pipelines. Pages per second are
taken from each crawler's own start/finish stats, so process start-up is excluded.
Target: brandsweep at least 0.7 of the baseline's pages/s, over a window long enough that
the rounds agree within +-15% (``--window N`` searches each keyword in N spellings the
marketplace reads alike, ``acme``, ``ACME``, ``Acme``: N times the pages per round).

    .venv/bin/python bench/sweep_http.py [--rounds 5] [--window 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fixtures.server import FixtureServer  # noqa: E402  (after the path above)

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--window", type=int, default=3, choices=range(1, 5))
    args = parser.parse_args()
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
