"""The workbench in real Chromium, by keyboard only: 50 cases of a demo store triaged
(confirm, dismiss with a quick or typed reason, undo, a seller confirmed in bulk, a case
page), and the store holds exactly what was pressed; hostile listing text shows as text
and never runs."""

from __future__ import annotations

import re
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from test_web_store import BULK_SELLER, CASES, HOSTILE, demo_store

from crawler.web.app import QUICK_REASONS, create_app

pytestmark = pytest.mark.browser
WAIT = 20.0  # seconds a step may take before the test gives up on it


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """The app under uvicorn in a thread, on a free loopback port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(WAIT)
        sock.close()


def decisions(db: Path) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(db)
    try:
        return con.execute(
            "select case_id, action, from_status, to_status, reason from case_events where "
            "by = 'ana' and action in ('confirm', 'dismiss', 'undo') order by id").fetchall()
    finally:
        con.close()


def wait_decisions(db: Path, n: int) -> list[tuple[Any, ...]]:
    deadline = time.monotonic() + WAIT
    while len(got := decisions(db)) < n:
        assert time.monotonic() < deadline, f"{len(got)} of {n} decisions stored"
        time.sleep(0.05)
    return got


def test_triage_fifty_cases_by_keyboard(tmp_path: Path, page: Any) -> None:
    db = tmp_path / "demo.db"
    store = demo_store(db)
    titles = {r["id"]: r["title"] for r in store.case_queue(limit=1000)}
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    expected: list[tuple[Any, ...]] = []

    def press(*keys: str) -> None:
        for key in keys:
            page.keyboard.press(key)

    def cursor() -> int:
        return int(page.locator("tr.case.cursor").get_attribute("data-id"))

    def visible() -> list[int]:
        return [int(i) for i in page.eval_on_selector_all(
            "tr.case:not(.decided)", "rows => rows.map(r => r.dataset.id)")]

    def undo_of(case_id: int, action: str) -> str:
        return max(e for e in decisions(db) if e[0] == case_id and e[1] == action) and \
            "undo of " + action

    with serving(create_app(db, "ana")) as url:
        page.goto(f"{url}/queue")
        ids = visible()
        assert len(ids) == CASES and ids == [r["id"] for r in store.case_queue(limit=1000)]
        # hostile titles are text: literally there, nothing ran
        for case_id, title in titles.items():
            cell = page.locator(f'tr.case[data-id="{case_id}"] td.title a')
            assert cell.inner_text() == title
        assert sum(t.startswith(tuple(HOSTILE)) for t in titles.values()) == len(HOSTILE)

        a = cursor()
        assert a == ids[0]
        press("c")
        expected.append((a, "confirm", "open", "confirmed", "confirmed in the workbench"))
        b = cursor()
        assert b == ids[1]
        press("d", "2")
        expected.append((b, "dismiss", "open", "dismissed", QUICK_REASONS[1]))
        c = cursor()
        assert c == ids[2]
        press("d")
        page.keyboard.type("sold by our own distributor")
        press("Enter")
        expected.append((c, "dismiss", "open", "dismissed", "sold by our own distributor"))
        wait_decisions(db, 3)
        press("u")  # c comes back, under the cursor
        expected.append((c, "undo", "dismissed", "open", "undo of dismiss"))
        page.wait_for_function(
            f"() => document.querySelector('tr.case.cursor')?.dataset.id === '{c}'")
        press("c")
        expected.append((c, "confirm", "open", "confirmed", "confirmed in the workbench"))
        press("u", "u")
        expected.append((c, "undo", "confirmed", "open", "undo of confirm"))
        expected.append((b, "undo", "dismissed", "open", "undo of dismiss"))
        wait_decisions(db, 7)
        page.wait_for_function(
            f"() => !!document.querySelector('tr.case[data-id=\"{b}\"]:not(.decided)') && "
            f"!!document.querySelector('tr.case[data-id=\"{c}\"]:not(.decided)')")

        # a seller's cases, confirmed together: s, a (select all shown), C
        order = visible()
        sellers = page.eval_on_selector_all(
            "tr.case:not(.decided)", "rows => rows.map(r => r.dataset.seller)")
        target = sellers.index(BULK_SELLER)
        press(*["k"] * len(order), *["j"] * target)
        assert cursor() == order[target]
        press("s")
        page.wait_for_url(re.compile(r"seller="))
        bulk = visible()
        assert len(bulk) == 5
        press("a", "C")
        expected += [(i, "confirm", "open", "confirmed", "confirmed in the workbench")
                     for i in bulk]
        wait_decisions(db, 12)
        page.wait_for_selector("p.empty")
        press("s")  # again: back to the whole queue
        page.wait_for_url(re.compile(r"/queue\?(?!.*seller=)"))

        # a case page: the title as text, evidence framed without scripts, c / d / u there
        first = cursor()
        assert first == b
        press("Enter")
        page.wait_for_url(f"{url}/cases/{b}")
        assert page.locator("h2.listing-title").inner_text() == titles[b]
        assert page.locator("iframe[sandbox]").count() == 1
        page.wait_for_load_state("load")
        press("c")
        expected.append((b, "confirm", "open", "confirmed", "confirmed in the workbench"))
        page.wait_for_url(re.compile(rf"/cases/(?!{b}$)\d+$"))
        nxt = int(page.url.rsplit("/", 1)[1])
        assert page.locator("#case-status").inner_text() == "open"
        press("d", "3")
        expected.append((nxt, "dismiss", "open", "dismissed", QUICK_REASONS[2]))
        page.wait_for_url(re.compile(rf"/cases/(?!{nxt}$)\d+$"))
        press("u")  # back to the dismissed case, open again
        expected.append((nxt, "undo", "dismissed", "open", "undo of dismiss"))
        page.wait_for_url(f"{url}/cases/{nxt}")
        page.wait_for_function(
            "() => document.querySelector('#case-status').textContent === 'open'")
        wait_decisions(db, 15)
        press("q")
        page.wait_for_url(f"{url}/queue")

        # two cases selected and dismissed together: x, j, x, D, 5
        chosen = visible()[:2]
        press("x", "j", "x", "D", "5")
        expected += [(i, "dismiss", "open", "dismissed", QUICK_REASONS[4]) for i in chosen]
        wait_decisions(db, 17)

        # the rest: confirm and dismiss in turn, reasons by number key
        n = 0
        while page.locator("tr.case.cursor").count():
            case_id = cursor()
            if n % 2 == 0:
                press("c")
                expected.append((case_id, "confirm", "open", "confirmed",
                                 "confirmed in the workbench"))
            else:
                digit = n // 2 % 9 + 1
                press("d", str(digit))
                expected.append((case_id, "dismiss", "open", "dismissed",
                                 QUICK_REASONS[digit - 1]))
            n += 1
            assert n <= CASES
        got = wait_decisions(db, len(expected))
        page.wait_for_selector("p.empty")

        csrf = page.request.post(f"{url}/actions/confirm", form={"ids": str(ids[0])})
        assert csrf.status == 403

    assert dialogs == []  # no title, description or snapshot ran a script
    assert [(e[0], e[1], e[2], e[3], e[4] if e[1] != "undo" else
             re.sub(r" \(event \d+\)$", "", e[4])) for e in got] == expected
    status: dict[int, str] = {i: "open" for i in ids}
    for case_id, _action, _from, to, _reason in expected:
        status[case_id] = to
    con = sqlite3.connect(db)
    stored = {i: s for i, s in con.execute("select id, status from cases") if i in status}
    con.close()
    assert stored == status
    assert set(status.values()) == {"confirmed", "dismissed"}
    assert len(got) > CASES  # every case decided, some of them twice


def test_mark_a_notice_submitted_from_the_notices_page(tmp_path: Path, page: Any) -> None:
    db = tmp_path / "demo.db"
    demo_store(db)
    page.on("dialog", lambda d: d.accept())  # the "sent it?" question
    with serving(create_app(db, "ana")) as url:
        page.goto(f"{url}/notices")
        page.get_by_role("button", name="mark submitted").click()
        page.wait_for_selector("text=No draft notices.")
        page.goto(f"{url}/notices?status=submitted")
        assert page.locator("td.status").all_inner_texts() == ["submitted"]
    con = sqlite3.connect(db)
    assert con.execute("select status, submitted_by from notices").fetchall() == \
        [("submitted", "ana")]
    assert con.execute("select count(*) from case_events where action = 'submit' and "
                       "by = 'ana'").fetchone() == (1,)
    con.close()
