"""What a sweep's memory grows with: tracemalloc over a brandsweep crawl of bazaar, megamart
and tradehub of a ``--scale N`` fixture world (the keywords and raised page caps of
``bench/sweep_http.py --scale``), at two scales.

Each sweep runs in a process of its own (this script with ``--one N``; Twisted's reactor
does not restart) through ``crawler.sweep.run`` with tracemalloc on; a Scrapy extension of
this script snapshots memory when each marketplace's spider closes, while its spider,
scheduler and pipelines still hold what they gathered. The fixture server runs in a
process of its own, so its catalogue is not counted. Printed per scale: the traced
memory still allocated at close, by the source line that allocated it (ours, Scrapy's,
the standard library's), and then what grew from the small scale to the big one, per
listing swept.

    .venv/bin/python bench/sweep_memory.py [--scales 3,7] [--top 15]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import sweep_http  # noqa: E402  (after the paths above)

SNAPSHOTS: dict[str, tracemalloc.Snapshot] = {}
STRUCTURES: Counter[str] = Counter()  # bytes of what grows per listing, all crawlers


def deep_size(obj: Any, seen: set[int] | None = None) -> int:
    """Bytes of ``obj`` and the strings, tuples, lists, sets and dicts it holds."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(deep_size(k, seen) + deep_size(v, seen) for k, v in obj.items())
    elif isinstance(obj, (list, tuple, set, frozenset)):
        size += sum(deep_size(x, seen) for x in obj)
    return size


def structures(crawler: Any, spider: Any) -> dict[str, int]:
    """The per-listing bookkeeping of one crawler as it closes, in bytes."""
    out = {f"spider.{name}": deep_size(getattr(spider, name, None))
           for name in ("seen", "details", "waiting", "outcome")}
    engine = crawler.engine
    scheduler = getattr(getattr(engine, "_slot", None), "scheduler", None)
    df = getattr(scheduler, "df", None)
    out["dupefilter.fingerprints"] = deep_size(getattr(df, "_fingerprints", None)
                                               or getattr(df, "fingerprints", None))
    for pipe in getattr(getattr(engine.scraper, "itemproc", None), "middlewares", ()):
        for name in ("_listings", "_photos", "buffer"):
            if hasattr(pipe, name):
                out[f"{type(pipe).__name__}.{name}"] = deep_size(getattr(pipe, name))
    return out


class Snapshot:
    """A Scrapy extension: a tracemalloc snapshot when the spider closes."""

    def __init__(self, crawler: Any) -> None:
        from scrapy import signals

        self.crawler = crawler
        crawler.signals.connect(self.closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> Snapshot:
        return cls(crawler)

    def closed(self, spider: Any) -> None:
        STRUCTURES.update(structures(self.crawler, spider))
        SNAPSHOTS[spider.name] = tracemalloc.take_snapshot()


def by_line(snapshot: tracemalloc.Snapshot, since: tracemalloc.Snapshot) -> Counter[str]:
    """Bytes allocated since ``since`` and still held, by allocating file:line."""
    out: Counter[str] = Counter()
    for stat in snapshot.compare_to(since, "lineno"):
        frame = stat.traceback[0]
        name = frame.filename
        for cut in ("site-packages/", str(ROOT) + "/", "lib/python3"):
            if cut in name:
                name = name.split(cut, 1)[1]
        out[f"{name}:{frame.lineno}"] += stat.size_diff
    return out


def sweep(scale: int, tmp: Path) -> tuple[int, Counter[str]]:
    """Swept listings and what the three crawlers still held at close, by line."""
    from crawler.profiles import loading
    from crawler.sweep.run import SweepPlan, run

    server = subprocess.Popen([sys.executable, "-m", "fixtures", "serve", "--port", "0",
                               "--scale", str(scale)], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    assert server.stdout is not None
    url = server.stdout.readline().strip()
    import os

    os.environ["BRANDSWEEP_FIXTURE_URL"] = url
    try:
        profiles = loading.select(loading.load_profiles([sweep_http.unlimited_profiles(tmp)]),
                                  list(sweep_http.SCALE_MARKETS))
        plan = SweepPlan(kind="crawl", brand=None, campaign="memory",
                         keywords=sweep_http.SCALE_KEYWORDS, profiles=profiles,
                         max_pages=None, db=tmp / f"memory{scale}.db", settings={
                             "EXTENSIONS": {"crawler.extensions.health.HealthExtension": 500,
                                            "sweep_memory.Snapshot": 900}})
        SNAPSHOTS.clear()
        import gc

        gc.collect()
        before = tracemalloc.take_snapshot()
        result = run(plan)
    finally:
        server.terminate()
        server.wait()
    # the crawlers close one after the other: the last snapshot holds what every
    # crawler kept to the end (a closed one's spider stays referenced by the sweep)
    held = by_line(list(SNAPSHOTS.values())[-1], before)
    listings = sum(m["listings"] for m in result.marketplaces.values())
    return listings, held


def one(scale: int) -> None:
    """``--one N``: sweep scale N under tracemalloc; print listings and held bytes as JSON."""
    # this module must be importable by name for the extension setting
    sys.modules.setdefault("sweep_memory", sys.modules[__name__])
    tracemalloc.start(1)
    n, held = sweep(scale, Path(tempfile.mkdtemp()))
    print(json.dumps({"listings": n, "held": held, "structures": STRUCTURES}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", default="3,7")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one)
        return
    small, big = (int(s) for s in args.scales.split(","))
    rows = {}
    kept: dict[int, Counter[str]] = {}
    for scale in (small, big):
        done = subprocess.run([sys.executable, __file__, "--one", str(scale)],
                              capture_output=True, text=True, check=True)
        data = json.loads(done.stdout.splitlines()[-1])
        n, held = int(data["listings"]), Counter(data["held"])
        rows[scale] = (n, held)
        kept[scale] = Counter(data["structures"])
        print(f"scale {scale}: what the three crawlers kept per listing, at their close: "
              + ", ".join(f"{k} {v / 2**20:.2f} MiB ({v / n:.0f} B/listing)"
                          for k, v in kept[scale].most_common() if v > 1024))
        print(f"scale {scale}: {n:,} listings swept; traced memory held at close "
              f"{sum(held.values()) / 2**20:.1f} MiB; the largest by allocating line:")
        for line, size in held.most_common(args.top):
            print(f"  {size / 2**20:8.2f} MiB  {line}")
    (n1, h1), (n2, h2) = rows[small], rows[big]
    grew = Counter({k: h2[k] - h1.get(k, 0) for k in h2})
    print(f"grew from scale {small} to {big} ({n2 - n1:,} more listings): "
          f"{(sum(h2.values()) - sum(h1.values())) / 2**20:.1f} MiB, "
          f"{(sum(h2.values()) - sum(h1.values())) / (n2 - n1):.0f} bytes per listing; by line:")
    for line, size in grew.most_common(args.top):
        print(f"  {size / (n2 - n1):8.0f} B/listing  {size / 2**20:8.2f} MiB  {line}")


if __name__ == "__main__":
    main()
