"""Fixture server figures: start-up time and search-page latency on loopback.

Targets (issue 2): start in under 3 s; serve a search page in under 50 ms. Latency is
measured side by side with Python's static-file server sending the same bytes over the same
loopback, so the ratio shows what rendering a page costs on top of the socket itself.
Issue 19: ``serve --scale 20`` (38,880 listings) starts in under 5 s, and its first search
page (which builds the search index) and later ones are timed too.

    .venv/bin/python bench/fixture_server.py [--requests 200] [--scale 20]
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fixtures.server import health

PAGES = {
    "bazaar": "/bazaar/sch?q=acme&page={n}",
    "shopfront": "/shopfront/api/search?q=acme&offset={o}",
    "megamart": "/megamart/s?k=acme&page={n}",
    "tradehub": "/tradehub/search?keywords=acme&beginPage={n}",
}


class _QuietStatic(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the fixture server
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def startup_seconds(*extra: str) -> float:
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "fixtures", "serve", "--port", "0", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    health(url)
    elapsed = time.perf_counter() - started
    proc.terminate()
    proc.wait()
    return elapsed


def scaled(scale: int) -> None:
    """Start-up of ``serve --scale N``, and its search pages: the first (which builds
    the search index), and then a keyword's pages in turn."""
    runs = sorted(startup_seconds("--scale", str(scale)) for _ in range(3))
    print(f"start-up at --scale {scale}, 3 runs: median {statistics.median(runs):.2f} s, "
          f"worst {runs[-1]:.2f} s; target < 5 s: "
          f"{'met' if runs[-1] < 5 else 'MISSED'}")
    proc = subprocess.Popen([sys.executable, "-m", "fixtures", "serve", "--port", "0",
                             "--scale", str(scale)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    base = proc.stdout.readline().strip()
    try:
        first = timed_gets(base, ["/bazaar/sch?q=acme&page=1"])[0]
        later = sorted(timed_gets(base, [f"/bazaar/sch?q=acme&page={n}"
                                         for n in range(2, 100)]))
        print(f"--scale {scale} search pages: the first {first:.0f} ms (builds the index), "
              f"then p50 {statistics.median(later):.2f} ms, p95 "
              f"{later[int(len(later) * 0.95) - 1]:.2f} ms")
    finally:
        proc.terminate()
        proc.wait()


def timed_gets(base: str, paths: list[str]) -> list[float]:
    """Milliseconds per GET over one keep-alive connection."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    out = []
    for path in paths:
        started = time.perf_counter()
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        out.append((time.perf_counter() - started) * 1000)
        assert resp.status == 200, (path, resp.status)
    conn.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--scale", type=int, default=20,
                        help="also time start-up and search pages of this --scale; 0: skip")
    args = parser.parse_args()

    runs = sorted(startup_seconds() for _ in range(3))
    start = statistics.median(runs)
    print(f"start-up (process start until /_fixtures/health answers), 3 runs: "
          f"median {start:.2f} s, worst {runs[-1]:.2f} s; target < 3 s: "
          f"{3 / runs[-1]:.1f}x under")

    proc = subprocess.Popen([sys.executable, "-m", "fixtures", "serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    base = proc.stdout.readline().strip()
    health(base)
    static_dir = Path(tempfile.mkdtemp())
    handler = partial(_QuietStatic, directory=str(static_dir))
    static = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=static.serve_forever, daemon=True).start()
    static_base = f"http://127.0.0.1:{static.server_address[1]}"
    try:
        print(f"search pages, {args.requests} GETs each over keep-alive, milliseconds:")
        print(f"  {'marketplace':<11} {'p50':>6} {'p95':>6} {'max':>6}   "
              f"{'static p50':>10}   {'ours/static':>11}   {'50 ms / our p95':>15}")
        worst = 0.0
        for market, pattern in PAGES.items():
            paths = [pattern.format(n=i % 8 + 1, o=(i % 9) * 20) for i in range(args.requests)]
            timed_gets(base, paths[:5])  # warm the template cache, as a running server is
            ours = sorted(timed_gets(base, paths))
            # the same bytes as static files, served by the stdlib over the same loopback
            conn = http.client.HTTPConnection("127.0.0.1", int(base.rsplit(":", 1)[1]))
            conn.request("GET", paths[0])
            (static_dir / f"{market}.html").write_bytes(conn.getresponse().read())
            conn.close()
            floor = sorted(timed_gets(static_base, [f"/{market}.html"] * args.requests))
            p50, p95 = statistics.median(ours), ours[int(len(ours) * 0.95) - 1]
            worst = max(worst, p95)
            print(f"  {market:<11} {p50:6.2f} {p95:6.2f} {ours[-1]:6.2f}   "
                  f"{statistics.median(floor):10.2f}   {p50 / statistics.median(floor):11.1f}x"
                  f"   {50 / p95:14.1f}x")
        print(f"worst p95 {worst:.2f} ms; target < 50 ms: {'met' if worst < 50 else 'MISSED'}")
    finally:
        static.shutdown()
        proc.terminate()
        proc.wait()
    if args.scale:
        scaled(args.scale)


if __name__ == "__main__":
    main()
