"""Benchmark: the store at scale (issue 19). A store of 1,000,000 listings and 100,000
cases, made through the store's own schema (``Store.migrate``) and filled in bulk, then
the commands an analyst runs on it, each through the real CLI in a subprocess, three times
(the median is the figure):

- ``brandsweep report --format html`` of the latest sweep      target < 2 s
- ``brandsweep review list`` (as is, ``--stage``, ``--marketplace``) target < 1 s
- ``brandsweep listings --search TEXT``                            target < 0.5 s
- ``brandsweep rules backtest --brand acme --rules CANDIDATE``     target < 60 s

and the write rate as the store grows: ``Store.save`` of a 200-listing batch into an
empty store and into the big one (target: within a factor of 2).

The store is generated once (deterministic for a seed) and cached under ``--path``
(default ``.bench/store-1m.db``); ``--fresh`` makes it anew. Verdicts are the real rule
sets' (rules/acme.yaml, rules/velora.yaml) on every listing; every staged listing has a
case, as after ``brandsweep sweep``; the rest of the 100,000 cases are listings a later
rule change unstaged. Proportions: ~40 sweeps of ~50,000 listings each (observations),
case statuses from open to relisted with their audit events, evidence for the cases that
got as far as a notice, notices per seller, photos for a fifth of the listings, seller
networks. The timed commands never write to the store (a backtest without ``--apply``).

    .venv/bin/python bench/store_scale.py [--fresh] [--path .bench/store-1m.db]
        [--listings 1000000] [--cases 100000] [--sweeps 40] [--seen 50000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.items import Listing  # noqa: E402
from crawler.rules import loader  # noqa: E402
from crawler.rules.backtest import row_of  # noqa: E402
from crawler.store import Store  # noqa: E402

MARKETS = ["bazaar", "megamart", "shopfront", "tradehub", "agora", "souk"]
BRANDS = {  # brand -> (share of listings, its products' words, keywords)
    "acme": (0.7, ["pulse x2 wireless headphones", "pulse buds pro earbuds",
                   "trailpack 30l hiking backpack", "trailpack mini daypack",
                   "vector smartwatch", "volt 20000mah power bank"],
             ["acme", "acme headphones", "acme backpack"]),
    "velora": (0.3, ["siena leather handbag", "amalfi tote handbag",
                     "lido polarized sunglasses", "riviera aviator sunglasses",
                     "portofino leather wallet", "capri silk scarf"],
               ["velora", "velora handbag", "velora sunglasses"]),
}
GENERIC = ["wireless", "headphones", "leather", "handbag", "backpack", "sunglasses",
           "watch", "charger", "case", "premium", "new", "sale", "women", "men", "black",
           "white", "gold", "silver", "sport", "travel", "classic", "mini", "max", "bundle",
           "gift", "set", "pack", "fast", "shipping", "usb", "cable", "strap", "bag",
           "wallet", "scarf", "earbuds", "bluetooth", "noise", "cancelling", "hiking",
           "daypack", "tote", "polarized", "aviator", "silk", "power", "bank", "portable"]
REPLICA = ["replica", "aaa quality", "1:1 copy", "mirror quality", "super copy", "high copy",
           "top grade aaa"]
LOCATIONS = ["Shenzhen, China", "Guangzhou, China", "Yiwu, China", "Istanbul, Turkey",
             "Los Angeles, US", "Berlin, Germany", "Manchester, UK", "Lyon, France"]
# case statuses and their share of the 100,000 (the rest are open)
STATUSES = [("confirmed", 0.08), ("dismissed", 0.15), ("noticed", 0.04),
            ("submitted", 0.04), ("removed", 0.05), ("still_live", 0.01),
            ("relisted", 0.01)]
# the events that led each status there, after "open"
PATHS = {"open": [], "confirmed": ["confirm"], "dismissed": ["dismiss"],
         "noticed": ["confirm", "notice"], "submitted": ["confirm", "notice", "submit"],
         "removed": ["confirm", "notice", "submit", "removed"],
         "still_live": ["confirm", "notice", "submit", "still_live"],
         "relisted": ["confirm", "notice", "submit", "removed", "relisted"]}
NOTICED = {"noticed", "submitted", "removed", "still_live", "relisted"}
CHUNK = 50_000
PARTS = ("report", "review", "listings", "backtest", "save")
EPOCH = datetime(2026, 6, 1, tzinfo=UTC)


def stamp(sweep: int, seconds: int = 0) -> str:
    """When sweep ``sweep`` (1-based, two a day) saw something, as the store writes it."""
    at = EPOCH + timedelta(hours=12 * sweep, seconds=seconds)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class World:
    """The listings' identities, text and history, decided up front from the seed."""

    def __init__(self, n: int, sweeps: int, seen: int, seed: int) -> None:
        rng = random.Random(seed)
        self.n = n
        self.brand = ["acme" if rng.random() < BRANDS["acme"][0] else "velora"
                      for _ in range(n)]
        # every fifth sweep is velora's, the rest acme's; the latest is acme's
        self.sweep_brand = {s: "velora" if s % 5 == 0 else "acme"
                            for s in range(1, sweeps + 1)}
        self.sweep_brand[sweeps] = "acme"
        self.seen: dict[int, list[int]] = {}  # sweep -> listing indexes it saw
        self.first = [0] * n
        self.last = [0] * n
        for brand in BRANDS:
            mine = [i for i in range(n) if self.brand[i] == brand]
            runs = [s for s in sorted(self.sweep_brand) if self.sweep_brand[s] == brand]
            # listings appear over time: the k-th run finds its share of new ones
            for k, s in enumerate(runs):
                new = mine[len(mine) * k // len(runs):len(mine) * (k + 1) // len(runs)]
                known = mine[:len(mine) * k // len(runs)]
                again = rng.sample(known, min(len(known), max(0, seen - len(new))))
                self.seen[s] = new + again
                for i in new:
                    self.first[i] = s
                for i in self.seen[s]:
                    self.last[i] = max(self.last[i], s)
        self.sellers = [f"shop_{rng.randrange(20_000):05d}" for _ in range(n)]
        self.price = [rng.randrange(500, 30_000) for _ in range(n)]  # cents
        self.market = [MARKETS[i % len(MARKETS)] for i in range(n)]
        # a price drop in the latest sweep: those listings cost 10% more before
        self.dropped = {i for i in self.seen[sweeps] if rng.random() < 0.03}
        self.rng = rng

    def observed_price(self, i: int, sweep: int) -> str:
        """What sweep ``sweep`` saw listing ``i`` cost (10% more before a price drop)."""
        more = 1.1 if i in self.dropped and sweep < max(self.seen) else 1.0
        return f"{self.price[i] * more / 100:.2f}"

    def listing_id(self, i: int) -> str:
        return f"L{i:07d}"

    def row(self, i: int) -> dict[str, Any]:
        """Listing ``i`` as the store holds it (title and description drawn now, in index
        order, so one seed gives one store)."""
        rng = self.rng
        brand = self.brand[i]
        _, products, keywords = BRANDS[brand]
        roll = rng.random()
        words = rng.sample(GENERIC, rng.randrange(3, 7))
        price = self.price[i]
        if roll < 0.055:  # a counterfeit: the name, a product, replica words, cheap
            name = brand if rng.random() < 0.8 else brand[:2] + brand[3:]
            words = [name.title(), rng.choice(products), *words[:2], rng.choice(REPLICA)]
            price = rng.randrange(900, 4_000)
            self.price[i] = price
        elif roll < 0.155:  # the brand's product resold, or an accessory for it
            words = [brand.title(), rng.choice(products), *words[:3]]
            price = rng.randrange(6_000, 30_000)
            self.price[i] = price
        words.append(f"#{rng.randrange(10**7)}")  # sellers' own SKUs make titles unique
        title = " ".join(words)
        description = (" ".join(rng.choices(GENERIC, k=rng.randrange(15, 40)))
                       if rng.random() < 0.6 else None)
        market, lid = self.market[i], self.listing_id(i)
        first, last = self.first[i], self.last[i]
        images = [f"http://127.0.0.1:9/{market}/img/{lid}.jpg"] if i % 5 == 0 else []
        return {
            "marketplace": market, "listing_id": lid,
            "url": f"http://127.0.0.1:9/{market}/item/{lid}", "title": title,
            "description": description, "price": f"{price / 100:.2f}", "price_high": None,
            "currency": "USD", "seller": self.sellers[i], "seller_id": None,
            "seller_url": f"http://127.0.0.1:9/{market}/seller/{self.sellers[i]}",
            "seller_location": rng.choice(LOCATIONS), "ships_from": None,
            "condition": "new", "image_urls": json.dumps(images), "units_sold":
            rng.randrange(0, 500), "moq": None, "keywords": json.dumps([rng.choice(keywords)]),
            "campaigns": "[]", "render_mode": "http" if market != "shopfront" else "browser",
            "first_seen": stamp(first), "last_seen": stamp(last), "first_sweep": first,
            "last_sweep": last}


def _insert(conn: Any, table: str, rows: list[dict[str, Any]]) -> None:
    if rows:
        columns = list(rows[0])
        conn.executemany(
            f"insert into {table} ({', '.join(columns)}) values "
            f"({', '.join('?' * len(columns))})", [tuple(r.values()) for r in rows])


def generate(path: Path, n: int, n_cases: int, sweeps: int, seen: int, seed: int) -> None:
    """Write the store at ``path`` (a new file)."""
    started = time.perf_counter()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    store = Store(path)
    store.migrate()
    conn = store.conn
    world = World(n, sweeps, seen, seed)
    rulesets = {b: loader.load(ROOT / "rules" / f"{b}.yaml") for b in BRANDS}
    print(f"  plan: {sum(len(v) for v in world.seen.values()):,} observations over "
          f"{sweeps} sweeps ({time.perf_counter() - started:.0f} s)", flush=True)

    with store.transaction():
        for s in range(1, sweeps + 1):
            brand = world.sweep_brand[s]
            per_market: dict[str, int] = defaultdict(int)
            for i in world.seen[s]:
                per_market[world.market[i]] += 1
            stats = {"elapsed_seconds": 1800.0, "ruleset_version": rulesets[brand].version,
                     "marketplaces": {m: {"status": "ok", "pages": {"search": k // 40},
                                          "listings": k, "new_listings": k // 3,
                                          "retries": 0, "render_mode": "http"}
                                      for m, k in sorted(per_market.items())}}
            _insert(conn, "sweeps", [{
                "id": s, "kind": "sweep", "brand": brand, "campaign": None,
                "marketplaces": json.dumps(MARKETS), "keywords": json.dumps(BRANDS[brand][2]),
                "max_pages": 50, "started": stamp(s), "finished": stamp(s, 1800),
                "status": "done", "stats": json.dumps(stats, sort_keys=True), "pid": None,
                "host": "bench", "resumes": None}])
            _insert(conn, "marketplace_health", [{
                "sweep_id": s, "marketplace": m, "kind": "sweep", "brand": brand,
                "campaign": None, "plan": "bench", "status": "ok", "listings": k,
                "pages": k // 40, "coverage": json.dumps({"title": k, "price": k,
                                                          "seller": k - k // 20}),
                "degraded": "[]", "recorded_at": stamp(s, 1800)}
                for m, k in sorted(per_market.items())])

    staged: list[tuple[int, str | None, int]] = []  # (listing, stage, score) of staged ones
    unstaged: list[int] = []
    titles: list[str] = [""] * n
    for start in range(0, n, CHUNK):
        rows = [world.row(i) for i in range(start, min(n, start + CHUNK))]
        verdicts = []
        for i, row in enumerate(rows, start):
            titles[i] = row["title"]
            brand = world.brand[i]
            result = rulesets[brand].evaluate(row)
            verdicts.append({"brand": brand, **dict(zip(
                ("marketplace", "listing_id", "version", "score", "stage", "matches"),
                row_of(row, result), strict=True)),
                "evaluated_at": row["last_seen"], "sweep_id": row["last_sweep"]})
            if result.stage is not None:
                staged.append((i, result.stage, result.score))
            elif i % 50 == 0:
                unstaged.append(i)
        with store.transaction() as conn:
            _insert(conn, "listings", rows)
            _insert(conn, "evaluations", verdicts)
        print(f"  listings {start + len(rows):,} ({time.perf_counter() - started:.0f} s)",
              flush=True)

    for s in range(1, sweeps + 1):
        with store.transaction() as conn:
            order = sorted(world.seen[s], key=lambda i: (world.market[i], i))
            conn.executemany(
                "insert into observations (sweep_id, marketplace, listing_id, seen_at, url, "
                "title, price, price_high, currency, seller, keywords, render_mode) values "
                "(?, ?, ?, ?, ?, ?, ?, null, 'USD', ?, ?, 'http')",
                [(s, world.market[i], world.listing_id(i), stamp(s),
                  f"http://127.0.0.1:9/{world.market[i]}/item/{world.listing_id(i)}",
                  titles[i], world.observed_price(i, s),
                  world.sellers[i], json.dumps([BRANDS[world.brand[i]][2][0]]))
                 for i in order])
    print(f"  observations ({time.perf_counter() - started:.0f} s)", flush=True)

    cases(store, world, staged, unstaged, n_cases)
    print(f"  cases, events, evidence, notices ({time.perf_counter() - started:.0f} s)",
          flush=True)
    photos(store, world)
    # no ANALYZE: brandsweep never runs it, so a user's store is planned without
    # statistics, and so is this one (tests/test_store_query_plans.py checks those plans)
    conn.execute("pragma wal_checkpoint(truncate)")
    print(f"generated {path} in {time.perf_counter() - started:.0f} s "
          f"({path.stat().st_size / 2**30:.1f} GiB)", flush=True)


def cases(store: Store, world: World, staged: list[tuple[int, str | None, int]],
          unstaged: list[int], n_cases: int) -> None:
    """Cases for every staged listing (and unstaged ones up to ``n_cases``), their
    events, evidence for those that reached a notice, and the notices."""
    rng = random.Random(len(staged))
    chosen = staged[:n_cases] + [(i, "review", 55) for i in
                                 unstaged[:max(0, n_cases - len(staged))]]
    chosen.sort(key=lambda c: (world.first[c[0]], c[0]))  # case ids in the order opened
    rows, events, evidence = [], [], []
    noticed: dict[tuple[str, str, str, str], list[tuple[int, int]]] = defaultdict(list)
    removed: list[int] = []
    for case_id, (i, stage, score) in enumerate(chosen, 1):
        roll, status = rng.random(), "open"
        for name, share in STATUSES:
            if roll < share:
                status = name
                break
            roll -= share
        opened = world.first[i]
        at = stamp(opened, 1800)
        later = stamp(max(opened, world.last[i]), 1900)
        rows.append({"id": case_id, "brand": world.brand[i], "marketplace": world.market[i],
                     "listing_id": world.listing_id(i), "stage": stage, "score": score,
                     "status": status, "opened_at": at,
                     "updated_at": later if status != "open" else at, "sweep_id": opened,
                     "relisted_from": None})
        events.append({"case_id": case_id, "at": at, "by": "brandsweep", "action": "open",
                       "from_status": None, "to_status": "open",
                       "reason": f"staged {stage} (score {score}) by rule set bench",
                       "sweep_id": opened})
        previous = "open"
        for action in PATHS[status]:
            to = {"confirm": "confirmed", "dismiss": "dismissed", "notice": "noticed",
                  "submit": "submitted"}.get(action, action)
            events.append({"case_id": case_id, "at": later, "by": "analyst",
                           "action": action, "from_status": previous, "to_status": to,
                           "reason": "bench", "sweep_id": None})
            previous = to
        if status in NOTICED or (status == "confirmed" and rng.random() < 0.5):
            digest = hashlib.sha256(str(case_id).encode()).hexdigest()
            evidence.append({
                "case_id": case_id, "url": f"http://127.0.0.1:9/{world.market[i]}/item/"
                f"{world.listing_id(i)}", "captured_at": later, "http_status": 200,
                "screenshot": f"{case_id}/page.png", "screenshot_sha256": digest,
                "html": f"{case_id}/page.html", "html_sha256": digest,
                "image_url": None, "image_sha256": None, "title": None, "price": None,
                "currency": "USD"})
        if status in NOTICED:
            group = "draft" if status == "noticed" else "submitted"
            noticed[(world.brand[i], world.market[i], world.sellers[i], group)].append(
                (case_id, i))
        if status == "removed":
            removed.append(case_id)
    # a relisting: a later open case that is the removed one's seller back again
    open_ids = [r["id"] for r in rows if r["status"] == "open"]
    for old, new in zip(removed[: len(removed) // 10], reversed(open_ids), strict=False):
        if new > old:
            rows[new - 1]["relisted_from"] = old
    with store.transaction() as conn:
        _insert(conn, "cases", rows)
        _insert(conn, "case_events", events)
        _insert(conn, "evidence", evidence)
        items = []
        for notice_id, ((brand, market, seller, group), cited) in enumerate(
                sorted(noticed.items()), 1):
            at = stamp(world.last[cited[0][1]], 2000)
            _insert(conn, "notices", [{
                "id": notice_id, "brand": brand, "program": f"{market}-ip", "marketplace":
                market, "seller": seller, "ip_type": "trademark", "status": group,
                "created_at": at, "created_by": "analyst",
                "submitted_at": at if group == "submitted" else None,
                "submitted_by": "analyst" if group == "submitted" else None,
                "sweep_id": None, "part": 1, "parts": 1, "sender": "bench", "rights": "[]",
                "recipient": "{}", "ruleset_version": "bench"}])
            for position, (case_id, i) in enumerate(cited, 1):
                items.append({
                    "notice_id": notice_id, "case_id": case_id, "position": position,
                    "brand": brand, "program": f"{market}-ip", "marketplace": market,
                    "listing_id": world.listing_id(i), "url": "http://127.0.0.1:9/",
                    "title": "t", "price": None, "currency": "USD", "seller": seller,
                    "reason_code": "counterfeit", "reason": "bench", "rules": "[]",
                    "evidence": "{}"})
        _insert(conn, "notice_items", items)


def photos(store: Store, world: World) -> None:
    """A photo for every fifth listing (from a pool: counterfeiters reuse photos) and the
    seller networks of both brands."""
    rng = random.Random(5)
    pool = [hashlib.sha256(f"photo{k}".encode()).hexdigest() for k in range(50_000)]
    with store.transaction() as conn:
        _insert(conn, "images", [{
            "sha256": sha, "url": f"http://127.0.0.1:9/img/{sha[:12]}.jpg",
            "content_type": "image/jpeg", "width": 800, "height": 800, "bytes": 60_000,
            "file": f"{sha}.jpg", "thumbnail": f"thumbs/{sha}.jpg",
            "fetched_at": stamp(1)} for sha in pool])
        links = []
        for i in range(0, world.n, 5):
            market, lid = world.market[i], world.listing_id(i)
            links.append((market, lid, 0, f"http://127.0.0.1:9/{market}/img/{lid}.jpg",
                          rng.choice(pool), "ok", stamp(world.first[i])))
        links.sort()
        conn.executemany("insert into listing_images (marketplace, listing_id, position, "
                         "url, sha256, status, fetched_at) values (?, ?, ?, ?, ?, ?, ?)",
                         links)
        networks = []
        sellers = sorted(set(world.sellers))
        for brand in BRANDS:
            for k in range(300):
                members = rng.sample(sellers, rng.randrange(2, 6))
                for seller in members:
                    for market in rng.sample(MARKETS, 2):
                        networks.append((brand, market, seller, f"{brand}-net{k}",
                                         len(members), json.dumps(["same photo"]),
                                         stamp(1)))
        conn.executemany("insert or ignore into seller_networks (brand, marketplace, seller, "
                         "network, size, reasons, updated_at) values (?, ?, ?, ?, ?, ?, ?)",
                         networks)


CPU: list[float] = []  # CPU seconds (user + system) of the last command timed


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str], env: dict[str, str], repeat: int) -> tuple[float, list[float],
                                                                     str, str]:
    """Median wall time of the command over ``repeat`` runs, the runs, and the last run's
    stdout and stderr; ``CPU`` holds each run's CPU time (its workers' included), which a
    loaded machine inflates far less than the wall time."""
    runs = []
    CPU.clear()
    out = err = ""
    for _ in range(repeat):
        started, cpu = time.perf_counter(), _children_cpu()
        done = subprocess.run(argv, env=env, capture_output=True, text=True)
        runs.append(time.perf_counter() - started)
        CPU.append(_children_cpu() - cpu)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr}")
        out, err = done.stdout, done.stderr
    return statistics.median(runs), runs, out, err


def verdict(name: str, secs: float, runs: list[float], target: float, note: str = "") -> bool:
    met = secs < target
    # the load when the runs ended: a figure is provisional when it is above the CPUs
    print(f"{name:<44} {secs:7.2f} s  (runs {', '.join(f'{r:.2f}' for r in runs)}; CPU "
          f"{statistics.median(CPU):.2f} s; load {os.getloadavg()[0]:.1f}; target < "
          f"{target:g} s: {'met' if met else 'MISSED'}){note}", flush=True)
    return met


def batch(n: int, start: int) -> Iterator[Listing]:
    rng = random.Random(start)
    for i in range(start, start + n):
        yield Listing(marketplace=MARKETS[i % len(MARKETS)], listing_id=f"W{i:07d}",
                      url=f"http://127.0.0.1:9/bazaar/item/W{i:07d}",
                      title=f"Acme {rng.choice(BRANDS['acme'][1])} "
                            f"{' '.join(rng.sample(GENERIC, 5))}",
                      keyword="acme", render_mode="http", price=f"{rng.randrange(10, 300)}.00",
                      currency="USD", seller=f"shop_{rng.randrange(20_000):05d}",
                      description=" ".join(rng.choices(GENERIC, k=25)))


def write_rate(big: Path, repeat: int) -> bool:
    """``Store.save`` of 200 listings (half new, half seen in the batch before) into an
    empty store and into a copy of the big one, batch by batch in turn (a load that comes
    and goes weighs on both alike); judged on CPU time, which that load inflates least."""
    with tempfile.TemporaryDirectory(dir=big.parent) as tmp:
        copy = Path(tmp) / "big.db"
        shutil.copyfile(big, copy)  # the cached store stays as generated
        stores = {"empty": Store(Path(tmp) / "empty.db"), "1M": Store(copy)}
        sweeps = {}
        for name, store in stores.items():
            store.migrate()
            sweeps[name] = store.start_sweep(kind="sweep", brand="acme", campaign=None,
                                             marketplaces=MARKETS, keywords=["acme"],
                                             max_pages=1)
        wall: dict[str, list[float]] = {name: [] for name in stores}
        cpu: dict[str, list[float]] = {name: [] for name in stores}
        for k in range(repeat * 5):
            for name, store in stores.items():
                listings = list(batch(200, 9_000_000 + k * 100))  # overlaps the one before
                started, used = time.perf_counter(), time.process_time()
                store.save(sweeps[name], listings)
                wall[name].append(time.perf_counter() - started)
                cpu[name].append(time.process_time() - used)
        for store in stores.values():
            store.conn.close()
    e, f = statistics.median(cpu["empty"]), statistics.median(cpu["1M"])
    met = f <= 2 * e
    for name, label in (("empty", "empty store"), ("1M", "1M store")):
        print(f"{'Store.save of 200 listings, ' + label:<44} "
              f"{statistics.median(wall[name]) * 1000:7.1f} ms  (CPU "
              f"{statistics.median(cpu[name]) * 1000:.1f} ms; median of {len(cpu[name])})",
              flush=True)
    print(f"{'Store.save, 1M store against empty (CPU)':<44} {f / e:7.2f} x  (target <= 2x: "
          f"{'met' if met else 'MISSED'})", flush=True)
    return met


def backtest(brandsweep: str, env: dict[str, str], db: Path, tmp: Path, repeat: int
             ) -> bool:
    """``rules backtest`` of a candidate acme rule file against the current one."""
    candidate = tmp / "rules"
    shutil.copytree(ROOT / "rules", candidate)
    acme = candidate / "acme.yaml"
    # what an analyst's week might change: a stricter review stage (the listings that
    # scored 50 leave it) and a laxer takedown (those at 60 move up to it)
    text = acme.read_text()
    for old, new in (("{name: review, min_score: 50}", "{name: review, min_score: 55}"),
                     ("{name: takedown, min_score: 80", "{name: takedown, min_score: 60")):
        assert old in text, f"rules/acme.yaml no longer has {old!r}: update the bench"
        text = text.replace(old, new)
    acme.write_text(text)
    secs, runs, out, _ = timed([brandsweep, "rules", "backtest", "--brand", "acme",
                                "--rules", str(acme), "--db", str(db), "--json"], env,
                               repeat)
    result = json.loads(out)
    return verdict("rules backtest --brand acme --rules CANDIDATE", secs, runs, 60,
                   f"; {result['listings']:,} listings, changes {result['changes']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=ROOT / ".bench" / "store-1m.db")
    parser.add_argument("--fresh", action="store_true", help="Generate the store anew.")
    parser.add_argument("--listings", type=int, default=1_000_000)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--sweeps", type=int, default=40)
    parser.add_argument("--seen", type=int, default=50_000,
                        help="Listings each sweep sees (new ones and again).")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", action="append", choices=PARTS,
                        help="Time only this (again for more); default: everything.")
    args = parser.parse_args()
    parts = set(args.only or PARTS)
    print(f"uptime: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
          f"{os.getloadavg()[2]:.2f} (load average, {os.cpu_count()} CPUs)", flush=True)
    db: Path = args.path
    if args.fresh or not db.is_file():
        print(f"generating {db} ({args.listings:,} listings, {args.cases:,} cases)",
              flush=True)
        generate(db, args.listings, args.cases, args.sweeps, args.seen, args.seed)
    else:
        print(f"using {db} (--fresh to generate it anew)", flush=True)
    store = Store(db)
    started = time.perf_counter()
    applied = store.migrate()  # a store cached before a new migration gets it
    if applied:
        print(f"migrated: {', '.join(applied)} in {time.perf_counter() - started:.1f} s",
              flush=True)
    counts = {t: store.conn.execute(f"select count(*) from {t}").fetchone()[0]
              for t in ("listings", "observations", "evaluations", "cases", "case_events",
                        "evidence", "notices", "notice_items", "sweeps")}
    store.conn.close()
    print("store: " + ", ".join(f"{t} {k:,}" for t, k in counts.items()), flush=True)

    brandsweep = str(Path(sys.executable).parent / "brandsweep")
    env = dict(os.environ, BRANDSWEEP_RULES=str(ROOT / "rules"))
    env.pop("BRANDSWEEP_DB", None)
    ok = True
    # the floor under every figure: the CLI starting (imports) and doing nothing
    secs, runs, _, _ = timed([brandsweep, "--version"], env, args.repeat)
    print(f"{'brandsweep --version (start-up alone)':<44} {secs:7.2f} s  (runs "
          f"{', '.join(f'{r:.2f}' for r in runs)}; CPU {statistics.median(CPU):.2f} s)",
          flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        html = Path(tmp) / "report.html"
        if "report" in parts:
            secs, runs, _, _ = timed([brandsweep, "report", "--format", "html", "--out",
                                      str(html), "--db", str(db)], env, args.repeat)
            ok &= verdict("report --format html (latest sweep)", secs, runs, 2,
                          f"; {html.stat().st_size // 1024} KiB")
        for extra in ([], ["--stage", "review"], ["--marketplace", "bazaar"],
                      ["--status", "confirmed", "--stage", "takedown"], ["--brand", "acme"]):
            if "review" not in parts:
                break
            secs, runs, _, err = timed([brandsweep, "review", "list", *extra, "--db",
                                          str(db)], env, args.repeat)
            ok &= verdict(f"review list {' '.join(extra)}".strip(), secs, runs, 1,
                          f"; {err.strip().splitlines()[-1]}")
        # a product, replica wording, a rival brand's product, and one common word that
        # a third of the listings have (the worst case: every match is ranked)
        for text in ("pulse x2", "mirror quality", "portofino wallet", "wireless"):
            if "listings" not in parts:
                break
            secs, runs, _, err = timed([brandsweep, "listings", "--search", text, "--db",
                                          str(db)], env, args.repeat)
            ok &= verdict(f"listings --search {text!r}", secs, runs, 0.5,
                          f"; {err.strip().splitlines()[-1]}")
        if "backtest" in parts:
            ok &= backtest(brandsweep, env, db, Path(tmp), args.repeat)
    if "save" in parts:
        ok &= write_rate(db, args.repeat)
    print(f"uptime: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
          f"{os.getloadavg()[2]:.2f} (load average at the end)", flush=True)
    print("all targets met" if ok else "some targets MISSED", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
