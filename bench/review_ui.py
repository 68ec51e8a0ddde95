"""Workbench latency: p50/p95 of the queue page, a case page and a confirm, over real HTTP
to uvicorn on loopback, on a store of 100,000 listings and 10,000 open cases.

The store is made through the store's own schema (``Store.migrate``) and filled with
sqlite-utils bulk inserts; it is built once into the temp folder and reused.
Target (issue 16): p95 <= 100 ms for each.

    .venv/bin/python bench/review_ui.py [--listings N] [--cases N] [--requests N]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from crawler.store import Store, now

MARKETS = ["bazaar", "megamart", "shopfront", "tradehub"]
WORDS = ["acme", "pulse", "x2", "wireless", "headphones", "buds", "pro", "trailpack",
         "30l", "backpack", "vector", "smartwatch", "volt", "power", "bank", "black",
         "new", "original", "fast", "shipping", "replica", "copy", "1:1", "deal"]


def build(path: Path, listings: int, cases: int, seed: int = 16) -> None:
    """A store with ``listings`` listings (the first ``cases`` staged, each an open case
    with its audit row) and a verdict for every listing."""
    rnd = random.Random(seed)
    store = Store(path)
    store.migrate()
    db = store.db
    at = now()
    sweep = store.start_sweep(kind="sweep", brand="acme", campaign=None,
                              marketplaces=MARKETS, keywords=["acme"], max_pages=1)

    def title(i: int) -> str:
        words = rnd.sample(WORDS, 7)
        return " ".join(["acme pulse x2 replica", *words] if i < cases else words)

    rows = ({"marketplace": MARKETS[i % 4], "listing_id": f"B{i:07d}",
             "url": f"http://127.0.0.1:9/{MARKETS[i % 4]}/item/B{i:07d}", "title": title(i),
             "description": " ".join(rnd.choices(WORDS, k=30)),
             "price": f"{rnd.uniform(5, 250):.2f}", "currency": "USD",
             "seller": f"seller-{rnd.randrange(2000)}", "seller_location": "CN",
             "image_urls": "[]", "keywords": '["acme"]', "campaigns": "[]",
             "render_mode": "http", "first_seen": at, "last_seen": at, "first_sweep": sweep,
             "last_sweep": sweep} for i in range(listings))
    db["listings"].insert_all(rows, batch_size=2000)
    matches = json.dumps([{"rule": "acme-replica-wording", "score": 90, "selections": {
        "replica": [{"field": "title", "start": 15, "end": 22, "text": "replica"}]}}])
    db["evaluations"].insert_all(({
        "brand": "acme", "marketplace": MARKETS[i % 4], "listing_id": f"B{i:07d}",
        "version": "bench", "score": 50 + i % 100 if i < cases else 0,
        "stage": ("takedown" if i % 3 else "review") if i < cases else None,
        "matches": matches if i < cases else "[]", "evaluated_at": at, "sweep_id": sweep}
        for i in range(listings)), batch_size=2000)
    db["cases"].insert_all(({
        "id": i + 1, "brand": "acme", "marketplace": MARKETS[i % 4],
        "listing_id": f"B{i:07d}", "stage": "takedown" if i % 3 else "review",
        "score": 50 + i % 100, "status": "open", "opened_at": at, "updated_at": at,
        "sweep_id": sweep} for i in range(cases)), batch_size=2000)
    db["case_events"].insert_all(({
        "case_id": i + 1, "at": at, "by": "brandsweep", "action": "open",
        "to_status": "open", "reason": "staged by the bench", "sweep_id": sweep}
        for i in range(cases)), batch_size=2000)
    store.finish_sweep(sweep, "done", {})
    db.execute("analyze")


@contextmanager
def serve(db: Path) -> Iterator[str]:
    """``brandsweep serve`` on a free port, in its own process (as an analyst runs it)."""
    script = Path(sys.executable).with_name("brandsweep")
    proc = subprocess.Popen([str(script), "serve", "--port", "0", "--db", str(db),
                             "--user", "bench"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert found, f"brandsweep serve printed {line!r}"
        yield found.group(0)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)


def timed(call: object, n: int) -> list[float]:
    out = []
    for i in range(n):
        start = time.perf_counter()
        call(i)  # type: ignore[operator]
        out.append((time.perf_counter() - start) * 1000)
    return out


def report(name: str, ms: list[float]) -> bool:
    ms = sorted(ms)
    p50 = statistics.median(ms)
    p95 = ms[max(0, int(len(ms) * 0.95) - 1)]
    print(f"{name:<12} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   ({len(ms)} requests)")
    return p95 <= 100


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    db = Path(tempfile.gettempdir()) / f"brandsweep-review-ui-{args.listings}-{args.cases}.db"
    if not db.exists():
        start = time.perf_counter()
        build(db, args.listings, args.cases)
        print(f"built {db.name} in {time.perf_counter() - start:.1f} s")
    # every run starts from the same open queue: confirms of an earlier run taken back
    with Store(db).db.conn as conn:
        conn.execute("update cases set status = 'open'")
    ok = True
    with serve(db) as url, httpx.Client(base_url=url) as client:
        page = client.get("/queue")
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
        assert csrf, "no CSRF token on the queue page"
        rnd = random.Random(1)
        for _ in range(10):  # warm up: templates compiled, rule set loaded
            client.get("/queue")
            client.get(f"/cases/{rnd.randrange(1, args.cases)}")
        ok &= report("queue page", timed(lambda i: client.get("/queue"), args.requests))
        ok &= report("case page", timed(
            lambda i: client.get(f"/cases/{rnd.randrange(1, args.cases)}"),
            args.requests))
        ok &= report("confirm", timed(lambda i: client.post(
            "/actions/confirm", data={"ids": str(args.cases - i)},
            headers={"X-CSRF-Token": csrf.group(1)}).raise_for_status(), args.requests))
    print("target p95 <= 100 ms:", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
