"""``brandsweep serve``, ``browse``, ``listings`` and ``store path`` from the command line:
the real script for the servers (started on port 0, asked over loopback, stopped), Click's
runner for the rest."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.request import HTTPCookieProcessor, build_opener

import pytest
from click.testing import CliRunner
from test_web_store import BULK_SELLER, CASES, demo_store

from crawler.cli import cli
from tests.conftest import fetch

SCRIPT = str(Path(sys.executable).with_name("brandsweep"))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    demo_store(tmp_path / "demo.db")
    return tmp_path / "demo.db"


@contextmanager
def running(*args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """The script started with ``args``; yields the first line it prints."""
    proc = subprocess.Popen([SCRIPT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ, **(env or {})))
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else "no output"
        yield line
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_serve_beyond_loopback_needs_a_token(db: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--db", str(db)],
                                env={"BRANDSWEEP_TOKEN": ""})
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert result.output.startswith("Error: --host 0.0.0.0 would let anyone")


def test_serve_without_a_store_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 2 and result.output.startswith("Error: no store at")


def test_serve_answers_on_loopback(db: Path) -> None:
    with running("serve", "--port", "0", "--db", str(db), "--user", "ana") as line:
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert url, line
        page = fetch(url.group(0) + "queue")
        assert page.status == 200 and "acting as ana" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]


def test_serve_with_a_token_from_the_environment(db: Path) -> None:
    with running("serve", "--host", "0.0.0.0", "--port", "0", "--db", str(db),
                 env={"BRANDSWEEP_TOKEN": "t0k3n"}) as line:
        port = re.search(r":(\d+)/\?token=t0k3n", line)
        assert port, line
        assert fetch(f"http://127.0.0.1:{port.group(1)}/queue").status == 403
        browser = build_opener(HTTPCookieProcessor(CookieJar()))
        with browser.open(f"http://127.0.0.1:{port.group(1)}/queue?token=t0k3n") as r:
            assert r.status == 200 and r.url.endswith("/queue")  # the cookie carried it


def test_browse_serves_the_store_read_only(db: Path) -> None:
    with running("browse", "--port", "0", "--db", str(db)) as line:
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert url, line
        got = fetch(url.group(0) + "demo/relistings.json?_shape=array")
        assert got.status == 200 and json.loads(got.text)


def test_store_path_prints_the_absolute_path(db: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["store", "path", "--db", str(db)])
    assert result.exit_code == 0 and result.output == f"{db.resolve()}\n"
    missing = runner.invoke(cli, ["store", "path", "--db", str(tmp_path / "none.db")])
    assert missing.exit_code == 2


def test_listings_every_listing_with_its_verdict(db: Path) -> None:
    runner = CliRunner()
    every = runner.invoke(cli, ["listings", "--db", str(db), "--json"])
    assert every.exit_code == 0
    rows = json.loads(every.output)
    assert len(rows) == CASES + 5 + 3
    assert {r["seller"] for r in rows} >= {BULK_SELLER, "acme-official"}
    unstaged = json.loads(runner.invoke(cli, ["listings", "--db", str(db), "--unstaged",
                                              "--json"]).output)
    assert {r["stage"] for r in unstaged} == {None} and len(unstaged) == 5
    text = runner.invoke(cli, ["listings", "--db", str(db), "--search", "trailpack",
                               "--marketplace", "bazaar"])
    assert text.exit_code == 0 and len(text.output.splitlines()) == 5 + 1
    assert "acme - 0" in text.output
    both = runner.invoke(cli, ["listings", "--db", str(db), "--stage", "review",
                               "--unstaged"])
    assert both.exit_code == 2


def test_review_undo_takes_back_a_decision(db: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["review", "confirm", "1", "--reason", "ok", "--by", "ana",
                               "--db", str(db)]).exit_code == 0
    undone = runner.invoke(cli, ["review", "undo", "1", "--by", "ana", "--db", str(db)])
    assert undone.exit_code == 0 and undone.output == "1 cases undone\n"
    again = runner.invoke(cli, ["review", "undo", "1", "--db", str(db)])
    assert again.exit_code == 1 and again.output.startswith("Error: case 1 is open")
    shown = json.loads(runner.invoke(cli, ["review", "show", "1", "--json", "--db",
                                           str(db)]).output)
    assert [e["action"] for e in shown["events"]][-2:] == ["confirm", "undo"]
    assert shown["status"] == "open"
