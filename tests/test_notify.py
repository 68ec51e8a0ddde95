"""Notifications end to end: real sweeps of a fixture marketplace, real apprise, a real
HTTP receiver and a real SMTP server (aiosmtpd) on loopback ports picked by the OS."""

from __future__ import annotations

import email
import email.policy
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from crawler.exceptions import ConfigError
from crawler.notify import config, deliver, digest
from fixtures.server import FixtureServer

SCRIPT = str(Path(sys.executable).with_name("brandsweep"))
RULES = Path(__file__).resolve().parent.parent / "rules"
# one marketplace, one result page per keyword: a sweep of a few seconds with new cases
SWEEP = ("sweep", "--brand", "velora", "--marketplace", "tradehub", "--max-pages", "1",
         "--no-evidence", "--no-draft")


def brandsweep(server: FixtureServer | None, *args: str, env: dict[str, str] | None = None
               ) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ, **(env or {}))
    if server is not None:
        full["BRANDSWEEP_FIXTURE_URL"] = server.url
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, env=full,
                          timeout=240)


class Receiver:
    """A webhook on a free loopback port: records every POST, answers ``status``."""

    def __init__(self) -> None:
        self.status = 200
        self.bodies: list[tuple[int, dict[str, Any]]] = []  # (status answered, JSON)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(size))
                receiver.bodies.append((receiver.status, body))
                self.send_response(receiver.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def delivered(self) -> list[dict[str, Any]]:
        return [b for status, b in self.bodies if status == 200]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture(scope="module")
def world() -> Iterator[FixtureServer]:
    with FixtureServer(port=0, seed=7) as server:
        yield server


def takedowns(db: Path) -> dict[str, int]:
    con = sqlite3.connect(db)
    try:
        return dict(con.execute("select marketplace, count(*) from cases where stage = "
                                "'takedown' group by marketplace").fetchall())
    finally:
        con.close()


def outbox(db: Path) -> list[tuple[int, str, int]]:
    con = sqlite3.connect(db)
    try:
        return con.execute("select id, status, attempts from notify_outbox order by id"
                           ).fetchall()
    finally:
        con.close()


def test_a_sweep_sends_one_digest_with_the_new_takedown_counts(
        world: FixtureServer, receiver: Receiver, tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    done = brandsweep(world, *SWEEP, "--db", str(db), "--json", "--notify", receiver.url)
    assert done.returncode == 0, done.stderr
    assert "notification" not in done.stderr
    counts = takedowns(db)
    assert counts and counts["tradehub"] > 0
    got = receiver.delivered()
    assert len(got) == 1 and len(receiver.bodies) == 1  # one digest, not one per listing
    body = got[0]
    assert f"tradehub: {counts['tradehub']} takedown" in body["message"]
    assert body["title"] == (f"brandsweep: velora sweep 1: {counts['tradehub']} new "
                             "takedown")
    assert json.loads(done.stdout)["notifications"] == {"queued": 1, "sent": 1, "unsent": 0}
    assert outbox(db) == [(1, "sent", 1)]

    # the same sweep again opens no case: nothing to tell with the default triggers
    again = brandsweep(world, *SWEEP, "--db", str(db), "--notify", receiver.url)
    assert again.returncode == 0, again.stderr
    assert len(receiver.bodies) == 1
    assert "  notifications: 0 new, 0 sent" in again.stdout.splitlines()


def test_a_failing_service_keeps_the_message_until_notify_retry_sends_it_once(
        world: FixtureServer, receiver: Receiver, tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    receiver.status = 500
    done = brandsweep(world, *SWEEP, "--db", str(db), "--json", "--notify", receiver.url)
    assert done.returncode == 0, done.stderr  # the sweep went well: a notification can't fail it
    summary = json.loads(done.stdout)
    assert summary["status"] == "ok"
    assert summary["notifications"] == {"queued": 1, "sent": 0, "unsent": 1}
    said = [line for line in done.stderr.splitlines() if "notification" in line]
    assert len(said) == 1 and "notify retry" in said[0], done.stderr
    assert "Traceback" not in done.stderr
    assert len(receiver.bodies) == deliver.ATTEMPTS and not receiver.delivered()
    assert outbox(db) == [(1, "pending", deliver.ATTEMPTS)]

    listed = brandsweep(None, "notify", "list", "--db", str(db), "--json")
    assert listed.returncode == 0, listed.stderr
    row = json.loads(listed.stdout)["messages"][0]
    assert row["status"] == "pending" and "500" in row["last_error"]

    receiver.status = 200
    retried = brandsweep(None, "notify", "retry", "--db", str(db))
    assert retried.returncode == 0, retried.stderr
    assert retried.stdout.startswith("1 sent, 0 not delivered")
    got = receiver.delivered()
    assert len(got) == 1
    assert f"tradehub: {takedowns(db)['tradehub']} takedown" in got[0]["message"]
    assert outbox(db)[0][1] == "sent"

    # sent once: neither another retry nor the next sweep sends it again
    twice = brandsweep(None, "notify", "retry", "--db", str(db))
    assert twice.returncode == 0 and twice.stdout.startswith("0 sent")
    again = brandsweep(world, *SWEEP, "--db", str(db), "--notify", receiver.url)
    assert again.returncode == 0, again.stderr
    assert len(receiver.delivered()) == 1


def test_notify_retry_of_a_service_still_down_is_exit_1_and_keeps_it(
        world: FixtureServer, receiver: Receiver, tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    receiver.status = 503
    done = brandsweep(world, *SWEEP, "--db", str(db), "--notify", receiver.url)
    assert done.returncode == 0, done.stderr
    retried = brandsweep(None, "notify", "retry", "--db", str(db))
    assert retried.returncode == 1
    assert retried.stderr.startswith("Error: notification 1 to json://127.0.0.1:")
    assert len(retried.stderr.strip().splitlines()) == 1
    assert outbox(db)[0][1] in ("pending", "failed")
    assert not receiver.delivered()


class _Controller:
    """aiosmtpd's Controller on a port the OS picks (it only knows fixed ports)."""

    def __init__(self, handler: Any) -> None:
        from aiosmtpd.controller import Controller

        class OnPortZero(Controller):  # type: ignore[misc]
            def _trigger_server(self) -> None:
                self.port = self.server.sockets[0].getsockname()[1]
                super()._trigger_server()

        self.controller = OnPortZero(handler, hostname="127.0.0.1", port=0)


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              bytes(envelope.original_content or envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    wrapped = _Controller(box).controller
    wrapped.start()
    try:
        yield box, int(wrapped.port)
    finally:
        wrapped.stop()


def test_mailto_delivers_the_html_form_with_a_thumbnail(
        world: FixtureServer, smtp: tuple[Mailbox, int], tmp_path: Path) -> None:
    box, port = smtp
    db = tmp_path / "s.db"
    # plain SMTP on loopback: mode=insecure (no STARTTLS), the port and both addresses
    url = (f"mailto://127.0.0.1:{port}?from=brandsweep@example.com&to=team@example.com"
           "&mode=insecure")
    done = brandsweep(world, *SWEEP, "--db", str(db), "--json", "--notify", url)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["notifications"]["sent"] == 1, done.stderr
    assert len(box.messages) == 1
    sender, rcpt, raw = box.messages[0]
    assert sender == "brandsweep@example.com" and rcpt == ["team@example.com"]
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    count = takedowns(db)["tradehub"]
    assert str(mail["subject"]) == f"brandsweep: velora sweep 1: {count} new takedown"
    parts = list(mail.walk())
    html = next(p for p in parts if p.get_content_type() == "text/html").get_content()
    assert "<table" in html and "tradehub" in html and f">{count}</td>" in html
    images = [p for p in parts if p.get_content_maintype() == "image"]
    assert images, "no thumbnail attached"
    con = sqlite3.connect(db)
    thumbs = {r[0] for r in con.execute("select thumbnail from images")}
    con.close()
    folder = db.with_name(f"{db.stem}-images")
    for image in images:
        cid = str(image["content-id"]).strip("<>")
        assert f'src="cid:{cid}"' in html  # shown inline, where its case is
        assert f"thumbs/{cid}" in thumbs
        assert image.get_content() == (folder / "thumbs" / cid).read_bytes()
    # the plain alternative is apprise's own rendering of the HTML form
    text = next(p for p in parts if p.get_content_type() == "text/plain").get_content()
    assert "tradehub" in text and "cid:" not in text


def test_bad_notify_urls_are_exit_2_before_anything_is_swept(
        world: FixtureServer, tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    done = brandsweep(world, *SWEEP, "--db", str(db), "--notify", "nope://x/secret-token")
    assert done.returncode == 2
    assert done.stderr.startswith("Error: --notify: nope://… is not a notification URL")
    assert "secret-token" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not db.exists()

    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    text = (rules / "velora.yaml").read_text()
    (rules / "velora.yaml").write_text(
        text + "\nnotify:\n  urls: [\"json://127.0.0.1:9/ok\", \"mailto://\"]\n")
    line = text.count("\n") + 3  # the line of the bad URL
    bad = brandsweep(world, *SWEEP, "--rules", str(rules), "--db", str(db))
    assert bad.returncode == 2
    assert f"velora.yaml:{line}:" in bad.stderr and "notify.urls.1" in bad.stderr, bad.stderr
    assert not db.exists()

    (rules / "velora.yaml").write_text(
        text + "\nnotify:\n  urls: [\"json://127.0.0.1:9/ok\"]\n  on: [new_takedown]\n")
    bad = brandsweep(world, *SWEEP, "--rules", str(rules), "--db", str(db))
    assert bad.returncode == 2
    assert f"velora.yaml:{text.count(chr(10)) + 4}:" in bad.stderr, bad.stderr
    assert "did you mean 'new_takedowns'" in bad.stderr
    assert not db.exists()


def test_schedule_notify_is_checked_where_it_is_written(tmp_path: Path) -> None:
    from scheduling import schedule

    path = tmp_path / "schedule.yaml"
    path.write_text("jobs:\n  - name: nightly\n    brands: [velora]\n    cron: '0 3 * * *'\n"
                    "    notify: [\"json://127.0.0.1:9/hook\", \"bogus://\"]\n")
    with pytest.raises(ConfigError) as err:
        schedule.load(path)
    assert str(err.value).startswith(f"{path}:5:")
    assert "bogus://…" in str(err.value)
    path.write_text("notify: {urls: [\"json://127.0.0.1:9/a\"], on: [high_score], "
                    "min_score: 300}\njobs:\n  - name: nightly\n    brands: [velora]\n"
                    "    cron: '0 3 * * *'\n    notify: json://127.0.0.1:9/b\n")
    loaded = schedule.load(path)
    merged = config.Channels().add(loaded.notify).add(loaded.jobs[0].notify)
    # what the runner hands the sweep it starts, read back as the sweep reads it
    back = config.from_env(merged.to_json())
    assert [(c.url, sorted(c.on), c.min_score) for c in back] == [
        ("json://127.0.0.1:9/a", ["high_score"], 300),
        ("json://127.0.0.1:9/b", sorted(config.DEFAULT_ON), None)]


def test_min_score_and_high_score_go_together() -> None:
    from pydantic import TypeAdapter, ValidationError

    adapter: TypeAdapter[Any] = TypeAdapter(config.NotifySetting)
    with pytest.raises(ValidationError, match="needs min_score"):
        adapter.validate_python({"urls": ["json://127.0.0.1:9/a"], "on": ["high_score"]})
    with pytest.raises(ValidationError, match="add high_score"):
        adapter.validate_python({"urls": ["json://127.0.0.1:9/a"], "min_score": 5})
    with pytest.raises(ValidationError, match=r"Field required|at least 1"):
        adapter.validate_python({"urls": []})


def _case(i: int, stage: str, score: int) -> digest.CaseLine:
    return digest.CaseLine(i, "bazaar", str(i), stage, score, f"title {i}", None, "9.5",
                           "USD", None, None)


def test_triggers_choose_what_a_channel_hears() -> None:
    d = digest.Digest("sweep", "acme", 4, "partial", "takedown",
                      new=[_case(1, "takedown", 300), _case(2, "review", 60)])
    for status in ("BLOCKED", "EXTRACTION FAILED", "DEGRADED", "failed", "ok"):
        trigger = digest.health_trigger(status)
        if trigger:
            d.problems.append(digest.MarketProblem(status.lower(), status, trigger, "why"))
    assert [p.trigger for p in d.problems] == [
        "marketplace_blocked", "marketplace_failed", "marketplace_degraded",
        "marketplace_failed"]
    only_degraded = config.Channel("json://x", frozenset({"marketplace_degraded"}))
    msg = digest.message(d, only_degraded)
    assert msg is not None and msg.triggers == ["marketplace_degraded"]
    assert "DEGRADED" in msg.text and "BLOCKED" not in msg.text and "#1" not in msg.text
    high = digest.message(d, config.Channel("json://x", frozenset({"high_score"}), 100))
    assert high is not None and "#1 " in high.text and "#2 " not in high.text
    quiet = digest.Digest("sweep", "acme", 5, "ok", "takedown",
                          new=[_case(3, "review", 60)])
    assert digest.message(quiet, config.Channel("json://x")) is None  # review only
    every = digest.message(quiet, config.Channel("json://x", frozenset({"every_sweep"})))
    assert every is not None and every.title == "brandsweep: acme sweep 5: ok, nothing new"


def test_listing_text_is_escaped_in_the_html_form() -> None:
    evil = digest.CaseLine(7, "bazaar", "7", "takedown", 99, "<script>x</script>",
                           "javascript:alert(1)", None, None, "<b>s</b>", None)
    d = digest.Digest("sweep", "acme", 1, "ok", "takedown", new=[evil])
    msg = digest.message(d, config.Channel("json://x"))
    assert msg is not None
    assert "<script>" not in msg.html and "&lt;script&gt;" in msg.html
    assert "javascript:" not in msg.html  # not a web URL: no link
    assert "<b>s</b>" not in msg.html


def test_verify_tells_the_removals_and_the_next_sweep_the_relistings(
        receiver: Receiver, tmp_path: Path) -> None:
    from crawler.cases import lifecycle as cases
    from crawler.store import Store

    db = tmp_path / "s.db"
    with FixtureServer(port=0, seed=7) as server:
        first = brandsweep(server, *SWEEP, "--db", str(db))
        assert first.returncode == 0, first.stderr
        store = Store(db)
        ids = [i for (i,) in store.db.execute("select id from cases order by id")]
        cases.transition(store, ids, "notice", "test")  # as if noticed and submitted
        cases.transition(store, ids, "submit", "test")
        server.app.set_day(1)
        checked = brandsweep(server, "verify", "--brand", "velora", "--db", str(db),
                             "--json", "--notify", receiver.url)
        assert checked.returncode == 0, checked.stderr
        removed = json.loads(checked.stdout)["removed"]
        assert removed
        got = receiver.delivered()
        assert len(got) == 1
        assert got[0]["title"] == f"brandsweep: velora verify: {len(removed)} removed"
        assert "Verified removed:" in got[0]["message"]
        shown_ids = {int(w[1:]) for w in got[0]["message"].split() if w[:1] == "#"
                     and w[1:].isdigit()}
        assert shown_ids and shown_ids <= set(removed)

        server.app.set_day(2)
        later = brandsweep(server, *SWEEP, "--db", str(db), "--notify", receiver.url)
        assert later.returncode == 0, later.stderr
        linked = store.db.execute("select count(*) from cases where relisted_from is not "
                                  "null").fetchone()[0]
        messages = receiver.delivered()[1:]
        assert linked  # the seeded world relists some of the removed listings on day 2
        assert len(messages) == 1
        assert f"{linked} relisting" in messages[0]["title"]
        assert "Relistings of removed listings:" in messages[0]["message"]
        assert messages[0]["message"].count("relists removed case #") == linked


def test_a_scheduled_job_hands_its_channels_to_the_sweep(
        world: FixtureServer, receiver: Receiver, tmp_path: Path) -> None:
    path = tmp_path / "schedule.yaml"
    # the same URL globally and in the job: one channel, one message, both asked-for parts
    path.write_text(f"""\
db: store.db
rules: {RULES}
notify: {{urls: ["{receiver.url}"], on: [new_cases, every_sweep]}}
jobs:
  - name: velora-quick
    brands: [velora]
    cron: "0 3 * * *"
    marketplaces: [tradehub]
    max_pages: 1
    evidence: false
    draft: false
    env: {{BRANDSWEEP_FIXTURE_URL: "{world.url}"}}
    notify: ["{receiver.url}"]
""")
    done = brandsweep(None, "schedule", "run", "velora-quick", "--file", str(path))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # cron mails stdout: nothing when all is well
    got = receiver.delivered()
    assert len(got) == 1 and len(receiver.bodies) == 1
    count = takedowns(tmp_path / "store.db")["tradehub"]
    con = sqlite3.connect(tmp_path / "store.db")
    cases = con.execute("select count(*) from cases where marketplace = 'tradehub'"
                        ).fetchone()[0]
    con.close()
    assert cases >= count > 0
    assert got[0]["title"] == (f"brandsweep: velora sweep 1: {cases} new cases, {count} "
                               "new takedown")


def test_notify_test_sends_now_and_says_so(receiver: Receiver) -> None:
    done = brandsweep(None, "notify", "test", receiver.url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("sent to json://127.0.0.1:")
    assert [b["title"] for b in receiver.delivered()] == ["brandsweep: test message"]
    receiver.status = 500
    down = brandsweep(None, "notify", "test", receiver.url)
    assert down.returncode == 1
    assert down.stderr.startswith("Error: json://127.0.0.1:") and "500" in down.stderr
    assert len(down.stderr.strip().splitlines()) == 1
    bad = brandsweep(None, "notify", "test", "mailto://")
    assert bad.returncode == 2 and bad.stderr.startswith("Error: URL: mailto://…")


def test_a_message_is_claimed_by_one_process_at_a_time(tmp_path: Path) -> None:
    from crawler.notify import outbox
    from crawler.store import Store
    from crawler.store import outbox as store_outbox

    store = Store(tmp_path / "s.db")
    store.migrate()
    msg = digest.test_message()
    first = outbox.enqueue_message(store, msg, "json://127.0.0.1:9/a", "test")
    second = Store(tmp_path / "s.db")  # another connection, as another process has
    taken = store_outbox.claim(store)
    assert [m["id"] for m in taken] == [first]
    assert store_outbox.claim(second) == []  # held: nobody sends it twice
    assert store_outbox.claim(second, ids=[first]) == []
    store_outbox.mark_unsent(store, first, 3, "down", give_up_after=2)
    assert store_outbox.get(store, first)["status"] == "pending"
    assert [m["id"] for m in store_outbox.claim(second)] == [first]
    assert store_outbox.mark_unsent(second, first, 3, "down", give_up_after=2) == "failed"
    assert store_outbox.claim(store) == []  # sweeps stop trying a failed message
    assert [m["id"] for m in store_outbox.claim(store, statuses=("pending", "failed"))] == [
        first]
    store_outbox.mark_sent(store, first, 1)
    assert store_outbox.claim(store, statuses=("pending", "failed")) == []
    assert store_outbox.counts(store) == {"sent": 1}


def test_a_crawl_tells_a_marketplace_that_broke_and_keeps_its_exit_code(
        receiver: Receiver, tmp_path: Path) -> None:
    from fixtures.faults import parse_faults

    db = tmp_path / "s.db"
    with FixtureServer(port=0, seed=7, faults=parse_faults("layout:megamart")) as server:
        done = brandsweep(server, "crawl", "--campaign", "spot", "--keyword", "velora",
                          "--marketplace", "megamart", "--marketplace", "tradehub",
                          "--max-pages", "1", "--db", str(db), "--json", "--timeout", "5",
                          "--notify", receiver.url)
    assert done.returncode == 3, done.stderr  # as without notifications
    per = json.loads(done.stdout)["marketplaces"]
    assert per["megamart"]["status"] == "extraction_failed"
    got = receiver.delivered()
    assert len(got) == 1
    assert got[0]["title"] == "brandsweep: crawl 1: megamart EXTRACTION FAILED"
    assert f"megamart EXTRACTION FAILED: {per['megamart']['reason']}" in got[0]["message"]
    assert "tradehub" not in got[0]["message"].split("Marketplaces:")[0]  # ok: not a problem
