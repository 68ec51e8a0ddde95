"""Benchmark: a repeat sweep of an unchanged world against the first sweep.

``brandsweep sweep --brand acme`` as a user runs it (every fixture marketplace, evidence
and drafting on), twice in a row on a fresh store against the fixture server this process
starts (default world: seed 7, the hard counterfeits). The second sweep fetches a
listing's detail page only when its card changed or its last reading is older than the
profile's ``detail.refresh_days``, so it should fetch almost none. Wall time is the
``brandsweep`` process's, start to exit; detail requests are the sweep's own counts (its
``--json`` health: ``detail_pages`` fetched, ``detail_skipped``), next to every page
request the fixture server answered (search, detail and evidence pages).
Targets: the second sweep's detail requests <= 10% of the first's, its wall time <= 35%.

    .venv/bin/python bench/sweep_repeat.py [--brand acme] [--no-evidence]

``--no-evidence`` sweeps without capturing evidence of new cases (the first sweep's
largest cost, which a repeat sweep has no new cases to pay), to compare the crawls alone.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fixtures.server import FixtureServer, stats  # noqa: E402  (after the path above)

BIN = Path(sys.executable).parent


def sweep(url: str, db: Path, brand: str, evidence: bool) -> tuple[float, dict[str, Any]]:
    """One ``brandsweep sweep``: its wall time and its JSON summary."""
    started = time.monotonic()
    done = subprocess.run([str(BIN / "brandsweep"), "sweep", "--brand", brand, "--db",
                           str(db), "--json", "--evidence" if evidence else "--no-evidence"],
                          capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, BRANDSWEEP_FIXTURE_URL=url))
    wall = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"Error: brandsweep sweep exited {done.returncode}: {done.stderr[-2000:]}")
    return wall, json.loads(done.stdout)


def page_requests(server: FixtureServer) -> int:
    """Page requests the server has answered so far, every marketplace's (search, detail
    and evidence pages; not images or static files)."""
    return sum(stats(server.url)["requests"].values())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--brand", default="acme")
    parser.add_argument("--no-evidence", dest="evidence", action="store_false")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    db = tmp / "repeat.db"
    rows = []
    with FixtureServer(port=0) as server:
        for label in ("first", "second"):
            before = page_requests(server)
            wall, summary = sweep(server.url, db, args.brand, args.evidence)
            served = page_requests(server) - before
            markets = summary["marketplaces"]
            fetched = sum(m.get("detail_pages", 0) for m in markets.values())
            skipped = sum(m.get("detail_skipped", 0) for m in markets.values())
            search = sum(sum(m.get("pages", {}).values()) for m in markets.values())
            rows.append((wall, fetched))
            print(f"{label} sweep: {summary['status']}, wall {wall:.1f}s (sweep's own "
                  f"{summary['elapsed_seconds']:.1f}s); detail pages {fetched} fetched, {skipped} "
                  f"skipped; search pages {search}; server answered {served} page requests")
    (w1, d1), (w2, d2) = rows
    detail_ratio = d2 / d1 if d1 else 0.0
    wall_ratio = w2 / w1
    print(f"second/first: detail requests {detail_ratio:.1%} (target <= 10%: "
          f"{'met' if detail_ratio <= 0.10 else 'MISSED'}), wall time {wall_ratio:.1%} "
          f"(target <= 35%: {'met' if wall_ratio <= 0.35 else 'MISSED'})")


if __name__ == "__main__":
    main()
