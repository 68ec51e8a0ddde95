"""The workbench's Starlette views in-process (Starlette's TestClient over httpx): pages,
decisions through the library with their audit rows, evidence served by case id only,
notices, listings, and the security rules (token, CSRF, Host, headers, escaping)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from test_web_store import BULK_SELLER, HOSTILE, SNAPSHOT, demo_store, open_ids

from crawler.cases import evidence as ev
from crawler.cases import lifecycle as cases
from crawler.store import Store
from crawler.web.app import create_app

BASE = "http://127.0.0.1"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return demo_store(tmp_path / "demo.db")


@pytest.fixture
def client(store: Store) -> TestClient:
    return TestClient(create_app(store.path, "ana"), base_url=BASE)


def csrf_of(client: TestClient) -> str:
    html = client.get("/queue").text
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert found
    return found.group(1)


def post(client: TestClient, action: str, ids: list[int], reason: str = "") -> object:
    return client.post(f"/actions/{action}", data={"ids": ",".join(map(str, ids)),
                                                    "reason": reason},
                       headers={"X-CSRF-Token": csrf_of(client)})


def test_queue_lists_open_cases_by_score_with_counts(client: TestClient, store: Store
                                                     ) -> None:
    page = client.get("/queue")
    assert page.status_code == 200
    ids = [int(i) for i in re.findall(r'<tr class="case" data-id="(\d+)"', page.text)]
    assert ids == open_ids(store)
    assert "takedown <strong>50</strong>" in page.text
    rows = client.get("/queue/rows", params={"seller": BULK_SELLER})
    assert len(re.findall(r'<tr class="case"', rows.text)) == 5
    grouped = client.get("/queue", params={"group": "seller"}).text
    assert "bazaar / bulkco &lt;b&gt;outlet&lt;/b&gt; (" in grouped
    dismissed = client.get("/queue/rows", params={"status": "dismissed"}).text
    assert len(re.findall(r'<tr class="case"', dismissed)) == 1


def test_listing_text_is_escaped_everywhere(client: TestClient, store: Store) -> None:
    pages = [client.get("/queue").text, client.get("/listings").text]
    pages += [client.get(f"/cases/{i}").text for i in open_ids(store)[:len(HOSTILE)]]
    for html in pages:
        for tag in ("<script>alert", "<img src=x", "<svg", "<iframe src=javascript",
                    '<a href="javascript', "<style>body"):
            assert tag not in html
    queue = pages[0]
    assert "{{7*7}} ${7*7}" in queue  # never evaluated
    for text in HOSTILE:
        assert (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                .replace('"', "&#34;").replace("'", "&#39;")) in queue


def test_confirm_dismiss_undo_write_the_cli_events(client: TestClient, store: Store) -> None:
    a, b, c = open_ids(store)[:3]
    assert post(client, "confirm", [a]).json() == {  # type: ignore[attr-defined]
        "done": [a], "statuses": {str(a): "confirmed"}}
    assert post(client, "dismiss", [b, c], "authorised seller").status_code == 200  # type: ignore[attr-defined]
    assert post(client, "confirm", [a]).status_code == 409  # type: ignore[attr-defined]
    assert post(client, "undo", [b]).json()["statuses"] == {str(b): "open"}  # type: ignore[attr-defined]
    refused = post(client, "confirm", [b, c])  # c is dismissed: all or none
    assert refused.status_code == 409 and "nothing was changed" in refused.json()["error"]  # type: ignore[attr-defined]
    b_dismissed = store.db.execute("select max(id) from case_events where case_id = ? and "
                                   "action = 'dismiss'", [b]).fetchone()[0]
    events = store.db.execute(
        "select case_id, by, action, from_status, to_status, reason from case_events "
        "where action in ('confirm', 'dismiss', 'undo') and by = 'ana' order by id"
    ).fetchall()
    assert events == [
        (a, "ana", "confirm", "open", "confirmed", "confirmed in the workbench"),
        (b, "ana", "dismiss", "open", "dismissed", "authorised seller"),
        (c, "ana", "dismiss", "open", "dismissed", "authorised seller"),
        (b, "ana", "undo", "dismissed", "open", f"undo of dismiss (event {b_dismissed})"),
    ]
    assert [cases.case(store, i)["status"] for i in (a, b, c)] == \
        ["confirmed", "open", "dismissed"]


def test_dismiss_needs_a_reason_and_actions_are_known(client: TestClient, store: Store
                                                      ) -> None:
    first = open_ids(store)[0]
    assert post(client, "dismiss", [first]).status_code == 400  # type: ignore[attr-defined]
    assert post(client, "delete", [first]).status_code == 404  # type: ignore[attr-defined]
    assert post(client, "confirm", []).status_code == 400  # type: ignore[attr-defined]
    assert post(client, "confirm", [999999]).status_code == 409  # type: ignore[attr-defined]


def test_post_without_csrf_is_refused(client: TestClient, store: Store) -> None:
    first = open_ids(store)[0]
    for headers in ({}, {"X-CSRF-Token": "guess"}):
        refused = client.post("/actions/confirm", data={"ids": str(first)}, headers=headers)
        assert refused.status_code == 403
    notice = store.db.execute("select id from notices").fetchone()[0]
    assert client.post(f"/notices/{notice}/submit").status_code == 403
    assert cases.case(store, first)["status"] == "open"
    assert store.db.execute("select status from notices").fetchone()[0] == "draft"


def test_security_headers(client: TestClient) -> None:
    for path in ("/queue", "/listings", "/notices", "/static/workbench.js"):
        headers = client.get(path).headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "unsafe-inline" not in headers["content-security-policy"].split(
            "script-src")[1].split(";")[0]
        assert "frame-ancestors 'self'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "SAMEORIGIN"
        assert headers["x-content-type-options"] == "nosniff"
    html = client.get("/queue").text
    assert "<script>" not in html and not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert not re.search(r"<[^>]*\son[a-z]+=", html)  # no inline handlers either


def test_other_hosts_are_refused(store: Store) -> None:
    rebinding = TestClient(create_app(store.path, "ana"), base_url="http://evil.example")
    assert rebinding.get("/queue").status_code == 403


def test_token_is_required_and_set_from_a_login_url(store: Store) -> None:
    app = create_app(store.path, "ana", token="s3cret-token", local_only=False)
    client = TestClient(app, base_url="http://192.0.2.10:8765")
    assert client.get("/queue").status_code == 403
    assert client.get("/queue?token=wrong").status_code == 403
    login = client.get("/queue?token=s3cret-token&status=any", follow_redirects=False)
    assert login.status_code == 303 and login.headers["location"] == "/queue?status=any"
    assert "httponly" in login.headers["set-cookie"].lower()
    assert client.get("/queue").status_code == 200  # the cookie carries it now
    assert TestClient(app, base_url="http://192.0.2.10:8765",
                      cookies={"brandsweep_token": "nope"}).get("/queue").status_code == 403


def test_case_page_shows_evidence_explanation_price_seller_and_history(
        client: TestClient, store: Store) -> None:
    with_evidence = store.db.execute("select min(case_id) from evidence").fetchone()[0]
    html = client.get(f"/cases/{with_evidence}").text
    assert f'src="/cases/{with_evidence}/screenshot"' in html
    assert f'<iframe src="/cases/{with_evidence}/snapshot" sandbox' in html
    assert "Pulse X2 Wireless Headphones MSRP 199.00 USD" in html
    assert "% of MSRP" in html
    assert re.search(r'<mark title="acme-replica-wording">replica</mark>', html)
    assert "History" in html and "staged takedown" in html
    shot = client.get(f"/cases/{with_evidence}/screenshot")
    assert shot.status_code == 200 and shot.headers["content-type"] == "image/png"
    assert shot.content.startswith(b"\x89PNG")
    snap = client.get(f"/cases/{with_evidence}/snapshot")
    assert snap.content == SNAPSHOT
    assert snap.headers["content-security-policy"].startswith("sandbox;")
    assert "script-src" not in snap.headers["content-security-policy"]  # default-src 'none'
    bulk = store.case_queue(seller=BULK_SELLER)
    other = client.get(f"/cases/{bulk[0]['id']}").text
    assert "Seller's other cases (4)" in other
    relisting = store.db.execute("select id, relisted_from from cases where "
                                 "relisted_from is not null").fetchone()
    page = client.get(f"/cases/{relisting[0]}").text
    assert f'Relisting of removed case <a href="/cases/{relisting[1]}">' in page
    assert f"Came back as case <a href=\"/cases/{relisting[0]}\">" in \
        client.get(f"/cases/{relisting[1]}").text
    assert client.get("/cases/999999").status_code == 404


def test_evidence_is_served_from_the_evidence_folder_only(client: TestClient, store: Store,
                                                          tmp_path: Path) -> None:
    case_id = store.db.execute("select min(case_id) from evidence").fetchone()[0]
    secret = tmp_path / "secret.txt"
    secret.write_text("not evidence")
    with store.db.conn:  # a store whose row points outside the folder
        store.db.conn.execute("update evidence set html = ?, screenshot = ? where "
                              "case_id = ?", ["../secret.txt", str(secret), case_id])
    assert client.get(f"/cases/{case_id}/snapshot").status_code == 404
    assert client.get(f"/cases/{case_id}/screenshot").status_code == 404
    no_evidence = open_ids(store)[-1]
    assert client.get(f"/cases/{no_evidence}/screenshot").status_code == 404
    assert ev.folder(store.path).is_dir()


def test_notices_show_export_and_mark_submitted(client: TestClient, store: Store) -> None:
    notice, program = store.db.execute("select id, program from notices").fetchone()
    page = client.get("/notices").text
    assert f'<a href="/notices/{notice}">{notice}</a>' in page and program in page
    shown = client.get(f"/notices/{notice}").text
    assert "Acme Consumer Products" in shown
    for fmt in ("text", "eml", "md", "json", "csv", "lumen"):
        got = client.get(f"/notices/{notice}/export", params={"format": fmt})
        assert got.status_code == 200, fmt
        assert f"notice-{notice}-{program}" in got.headers["content-disposition"]
    assert client.get(f"/notices/{notice}/export?format=pdf").status_code == 400
    token = csrf_of(client)
    done = client.post(f"/notices/{notice}/submit", headers={"X-CSRF-Token": token})
    assert done.json() == {"notice": notice, "cases": 1}
    assert store.db.execute("select status, submitted_by from notices").fetchone() == \
        ("submitted", "ana")
    assert store.db.execute("select by, action from case_events where action = 'submit' "
                            "and by = 'ana'").fetchall() == [("ana", "submit")]
    again = client.post(f"/notices/{notice}/submit", headers={"X-CSRF-Token": token})
    assert again.status_code == 409


def test_listings_search_filters_and_verdicts(client: TestClient) -> None:
    found = client.get("/listings", params={"q": "trailpack"}).text
    assert found.count("acme-official") == 5 and "not judged" not in found
    unstaged = client.get("/listings", params={"unstaged": "1"}).text
    assert "Trailpack" in unstaged and "replica" not in unstaged
    weird = client.get("/listings", params={"q": '"( OR *'})
    assert weird.status_code == 200 and "No listings match." in weird.text
