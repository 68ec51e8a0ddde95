"""``python -m fixtures serve|truth`` as a user runs them: real processes, real signals."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from fixtures.catalogue import Catalogue
from fixtures.server import health
from tests.conftest import fetch


@pytest.fixture
def served() -> Iterator[tuple[subprocess.Popen[str], str, float]]:
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "fixtures", "serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    health(url)
    yield proc, url, time.monotonic() - started
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_serve_starts_fast_and_stops_cleanly_on_sigterm(
        served: tuple[subprocess.Popen[str], str, float]) -> None:
    proc, url, startup = served
    assert url.startswith("http://127.0.0.1:")
    assert startup < 3.0
    assert fetch(url + "/bazaar/sch?q=acme").status == 200
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=5) == 0
    assert proc.stderr is not None
    assert "fixture marketplaces stopped" in proc.stderr.read()
    with pytest.raises(OSError):
        health(url, timeout=1)


def test_serve_stops_on_sigint_during_a_slow_response() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "fixtures", "serve", "--port", "0",
                             "--faults", "slow", "--slow-seconds", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    import threading

    # a request stalled for 60 s must not hold the shutdown
    for p in range(1, 12):
        threading.Thread(target=lambda p=p: _quiet_get(f"{url}/bazaar/sch?q=acme&page={p}"),
                         daemon=True).start()
    time.sleep(0.5)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 0
    assert time.monotonic() - started < 5


def _quiet_get(url: str) -> None:
    with contextlib.suppress(OSError):
        fetch(url, timeout=30)


def test_serve_reports_a_busy_port_in_one_line(
        served: tuple[subprocess.Popen[str], str, float]) -> None:
    _, url, _ = served
    port = url.rsplit(":", 1)[1]
    done = subprocess.run([sys.executable, "-m", "fixtures", "serve", "--port", port],
                          capture_output=True, text=True, timeout=20)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "--port" in done.stderr


def test_serve_rejects_unknown_faults_with_usage_error() -> None:
    done = subprocess.run([sys.executable, "-m", "fixtures", "serve", "--faults", "nope"],
                          capture_output=True, text=True, timeout=20)
    assert done.returncode == 2
    assert "unknown fault 'nope'" in done.stderr


def test_truth_prints_json_lines_matching_the_catalogue(catalogue: Catalogue) -> None:
    done = subprocess.run([sys.executable, "-m", "fixtures", "truth", "--easy", "--marketplace",
                           "bazaar", "--keyword", "acme headphones", "--base-url",
                           "http://127.0.0.1:9999"], capture_output=True, text=True,
                          timeout=30, check=True)
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    expected = {x.listing_id for x in catalogue.search("bazaar", "acme headphones")}
    assert {r["listing_id"] for r in rows} == expected
    for r in rows:
        assert {"marketplace", "listing_id", "url", "title", "price", "currency", "seller",
                "label", "keywords"} <= r.keys()
        assert r["url"].startswith("http://127.0.0.1:9999/bazaar/itm/")
        assert "acme headphones" in r["keywords"] and "acme" in r["keywords"]


def test_truth_of_everything_is_the_whole_catalogue(catalogue: Catalogue) -> None:
    done = subprocess.run([sys.executable, "-m", "fixtures", "truth", "--easy"],
                          capture_output=True, text=True, timeout=30, check=True)
    assert len(done.stdout.splitlines()) == len(catalogue.listings)
