"""Evidence capture against loopback marketplaces in real Chromium: the URL policy, the
profile's politeness, retries of 429/503/time-outs, and blocked pages that are not evidence.

The end-to-end evidence tests (a sweep's evidence, a kill -9 during capture) stay in
``tests/test_notices_lifecycle.py``: they follow a case through its whole life."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from crawler.cases import evidence, pacing
from crawler.cases import lifecycle as cases
from crawler.cli import cli
from crawler.items import Listing
from crawler.profiles import loading as profiles
from crawler.profiles.model import MarketplaceProfile
from crawler.store import Store
from fixtures.catalogue import Catalogue
from fixtures.server import FixtureServer

pytestmark = pytest.mark.browser

PAGE = b"<html><body><h1>Listing</h1><p>Acme Pulse X2 replica</p></body></html>"
CAPTCHA = (b"<html><body><form id='captcha-form'>Please verify you are a human"
           b"</form></body></html>")
FAST = evidence.Retries(attempts=3, backoff=0.01, backoff_max=0.05)

Reply = tuple[int, dict[str, str], bytes]


@dataclass
class Served:
    """A loopback marketplace: each path answers through a function of its hit count."""

    routes: dict[str, Callable[[int], Reply]] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    starts: list[float] = field(default_factory=list)  # when each page request came in
    in_flight: int = 0
    most_in_flight: int = 0
    pause: float = 0.0  # seconds each page takes, so overlapping requests show
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""


@pytest.fixture
def serve() -> Iterator[Callable[[], Served]]:
    servers: list[ThreadingHTTPServer] = []
    everywhere = Served()  # in-flight counts over all the servers this test started

    def start() -> Served:
        state = Served(lock=everywhere.lock)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                with state.lock:
                    n = state.hits.get(self.path, 0)
                    state.hits[self.path] = n + 1
                    state.starts.append(time.monotonic())
                    for s in (state, everywhere):
                        s.in_flight += 1
                        s.most_in_flight = max(s.most_in_flight, s.in_flight)
                try:
                    time.sleep(state.pause)
                    route = state.routes.get(self.path)
                    if route is None:
                        status, headers, body = 404, {}, b"not here"
                    else:
                        status, headers, body = route(n)
                    if status == 0:  # drop the connection without an answer
                        self.close_connection = True
                        return
                    self.send_response(status)
                    headers = {"Content-Type": "text/html; charset=utf-8"} | headers
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                finally:
                    with state.lock:
                        state.in_flight -= 1
                        everywhere.in_flight -= 1

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        state.url = f"http://127.0.0.1:{server.server_address[1]}"
        return state

    start.everywhere = everywhere  # type: ignore[attr-defined]
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def profile(name: str, base_url: str, concurrency: int = 4, delay: float = 0.0,
            **extra: Any) -> MarketplaceProfile:
    return MarketplaceProfile.model_validate({
        "name": name, "title": name, "base_url": base_url, "currency": "USD",
        "notice_program": "dmca",
        "search": {"url": "{base_url}/s?q={keyword}",
                   "pagination": {"kind": "next_link", "next": "a.next::attr(href)"}},
        "listing": {"card": ".card", "fields": {"listing_id": "::attr(id)",
                                                "url": "a::attr(href)", "title": "a::text"}},
        "blocked": {"selectors": ["#captcha-form"], "text": ["Verify you are a human"]},
        "politeness": {"concurrency": concurrency, "delay": delay},
    } | extra)


def open_cases(store: Store, listings: list[tuple[str, str, str | None]]) -> list[int]:
    """A case for each (marketplace, url, first image): listings saved and staged."""
    sweep = store.start_sweep(kind="sweep", brand="acme", campaign=None,
                              marketplaces=sorted({m for m, _, _ in listings}),
                              keywords=["acme"], max_pages=1)
    items = [Listing(m, f"{m}-{i}", url, f"Acme replica {i}", "acme", "http",
                     price="20.00", currency="USD", image_urls=[image] if image else [])
             for i, (m, url, image) in enumerate(listings)]
    store.save(sweep, items)
    store.save_evaluations("acme", [(x.marketplace, x.listing_id, "v1", 10, "review", "[]")
                                    for x in items], sweep)
    return cases.sync(store, "acme", "tester", sweep).opened


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "store.db")
    s.migrate()
    return s


def rows(store: Store, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    return store.db.conn.execute(sql, params).fetchall()


def ok(n: int) -> Reply:
    return 200, {}, PAGE


def test_file_and_internal_urls_on_a_card_are_refused_never_read(
        store: Store, fixture_server: FixtureServer, catalogue: Catalogue, chromium: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRANDSWEEP_FIXTURE_URL", fixture_server.url)
    markets = profiles.load_profiles()
    real = catalogue.search("megamart", "acme")[0]
    ids = open_cases(store, [
        ("megamart", "file:///etc/passwd", None),
        ("megamart", "http://169.254.169.254/latest/meta-data/", None),
        ("megamart", fixture_server.url + real.path, "file:///etc/shadow"),
    ])
    got = evidence.capture(store, markets, chromium, "acme", "tester", retries=FAST)
    assert got.captured == 1 and not got.failed and not got.blocked
    assert [c for c, _ in got.refused] == ids[:2]
    assert "scheme 'file'" in got.refused[0][1] and "link-local" in got.refused[1][1]
    assert got.pending == 0 and got.exit_code == 3
    base = evidence.folder(store.path)
    assert not (base / f"case-{ids[0]}").exists() and not (base / f"case-{ids[1]}").exists()
    assert b"root:" not in b"".join(p.read_bytes() for p in base.rglob("*") if p.is_file())
    # the refused image is not fetched; the listing's own evidence is kept without it
    assert rows(store, "select case_id, image_sha256 from evidence") == [(ids[2], None)]
    assert evidence.verify(store).problems == []
    # refused again next run (no fetch), the reason recorded once in the case's history
    again = evidence.capture(store, markets, chromium, "acme", "tester", retries=FAST)
    assert [c for c, _ in again.refused] == ids[:2] and again.captured == 0
    assert rows(store, "select case_id, count(*) from case_events where action = "
                "'evidence_refused' group by case_id") == [(ids[0], 1), (ids[1], 1)]


def test_an_off_site_redirect_is_refused_before_it_is_requested(
        store: Store, serve: Callable[[], Served], chromium: str) -> None:
    shop, elsewhere = serve(), serve()
    elsewhere.routes["/phish"] = ok
    shop.routes["/away"] = lambda n: (302, {"Location": elsewhere.url + "/phish"}, b"")
    shop.routes["/moved"] = lambda n: (301, {"Location": "/here"}, b"")
    shop.routes["/here"] = ok
    ids = open_cases(store, [("shop", shop.url + "/away", None),
                             ("shop", shop.url + "/moved", None)])
    got = evidence.capture(store, {"shop": profile("shop", shop.url)}, chromium,
                           retries=FAST)
    assert [c for c, _ in got.refused] == [ids[0]]
    assert "redirects to" in got.refused[0][1] and elsewhere.url[7:] in got.refused[0][1]
    assert elsewhere.hits == {}  # the browser never asked the other host
    assert got.captured == 1
    assert rows(store, "select case_id, url from evidence") == [(ids[1], shop.url + "/moved")]
    assert (evidence.folder(store.path) / f"case-{ids[1]}" / "page.html").read_bytes() == PAGE
    assert rows(store, "select reason like '%served by %/here%' from case_events where "
                "action = 'evidence'") == [(1,)]


def test_429_503_and_dropped_connections_are_retried_then_left_pending(
        store: Store, serve: Callable[[], Served], chromium: str) -> None:
    shop = serve()
    shop.routes["/limited"] = lambda n: (429, {"Retry-After": "0"}, b"slow down") \
        if n == 0 else ok(n)
    shop.routes["/busy"] = lambda n: (503, {}, b"busy") if n < 2 else ok(n)
    shop.routes["/dropped"] = lambda n: (0, {}, b"") if n == 0 else ok(n)
    shop.routes["/down"] = lambda n: (503, {"Retry-After": "0"}, b"down")
    shop.routes["/gone"] = lambda n: (404, {}, b"gone")
    ids = open_cases(store, [("shop", shop.url + p, None)
                             for p in ("/limited", "/busy", "/dropped", "/down", "/gone")])
    got = evidence.capture(store, {"shop": profile("shop", shop.url)}, chromium,
                           retries=FAST)
    assert got.captured == 3
    assert (shop.hits["/limited"], shop.hits["/busy"], shop.hits["/dropped"]) == (2, 3, 2)
    assert shop.hits["/down"] == FAST.attempts and shop.hits["/gone"] == 1  # 404: no retry
    assert dict(got.failed).keys() == {ids[3], ids[4]} and got.pending == 2
    assert "HTTP 503" in dict(got.failed)[ids[3]] and "3 attempts" in dict(got.failed)[ids[3]]
    # the next run tries what is missing again
    shop.routes["/down"] = ok
    again = evidence.capture(store, {"shop": profile("shop", shop.url)}, chromium,
                             retries=FAST)
    assert again.captured == 1 and again.pending == 1


def test_a_time_out_is_retried(store: Store, serve: Callable[[], Served],
                               chromium: str) -> None:
    shop = serve()

    def slow_once(n: int) -> Reply:
        if n == 0:
            time.sleep(3)
        return ok(n)
    shop.routes["/slow"] = slow_once
    open_cases(store, [("shop", shop.url + "/slow", None)])
    got = evidence.capture(store, {"shop": profile("shop", shop.url)}, chromium,
                           retries=FAST, page_timeout=1.5)
    assert got.captured == 1 and shop.hits["/slow"] == 2


def test_a_captcha_served_with_200_is_not_evidence(
        store: Store, serve: Callable[[], Served], chromium: str) -> None:
    shop = serve()
    wall = {"on": True}
    shop.routes["/a"] = lambda n: (200, {}, CAPTCHA) if wall["on"] else ok(n)
    text_only = b"<html><body><p>VERIFY YOU ARE A HUMAN to continue</p></body></html>"
    shop.routes["/b"] = lambda n: (200, {}, text_only) if wall["on"] else ok(n)
    # drawn by the page's script after it loads: the served HTML alone looks fine
    scripted = (b"<html><body><script>document.body.insertAdjacentHTML('beforeend', "
                b"\"<div id='captcha-form'>wait</div>\")</script></body></html>")
    shop.routes["/c"] = lambda n: (200, {}, scripted) if wall["on"] else ok(n)
    shop.routes["/d"] = lambda n: (403, {}, CAPTCHA) if wall["on"] else ok(n)
    ids = open_cases(store, [("shop", shop.url + p, None)
                             for p in ("/a", "/b", "/c", "/d")])
    market = {"shop": profile("shop", shop.url)}
    got = evidence.capture(store, market, chromium, retries=FAST)
    assert got.captured == 0 and sorted(c for c, _ in got.blocked) == ids
    assert not got.failed and got.pending == 4 and got.exit_code == 3
    assert "'#captcha-form'" in dict(got.blocked)[ids[0]]
    assert "'Verify you are a human'" in dict(got.blocked)[ids[1]]
    assert (shop.hits["/a"], shop.hits["/b"]) == (1, 1)  # a wall is not hammered
    assert rows(store, "select count(*) from evidence") == [(0,)]
    assert not evidence.folder(store.path).exists()
    wall["on"] = False
    later = evidence.capture(store, market, chromium, retries=FAST)
    assert later.captured == 4 and not later.blocked
    assert b"captcha" not in (evidence.folder(store.path) / f"case-{ids[0]}" /
                              "page.html").read_bytes()


def test_a_script_drawn_captcha_does_not_wait_out_wait_for(
        store: Store, serve: Callable[[], Served], chromium: str) -> None:
    shop = serve()
    shop.routes["/app"] = lambda n: (200, {}, CAPTCHA)
    ids = open_cases(store, [("shop", shop.url + "/app", None)])
    market = {"shop": profile("shop", shop.url, evidence={"wait_for": "main.pdp"})}
    got = evidence.capture(store, market, chromium, retries=FAST, page_timeout=600)
    assert [c for c, _ in got.blocked] == ids  # (a 600 s wait would fail the suite)


def test_each_marketplace_keeps_its_own_politeness(
        store: Store, serve: Callable[[], Served], chromium: str) -> None:
    one, two, slow = serve(), serve(), serve()
    for shop in (one, two, slow):
        shop.pause = 0.3
        for i in range(6):
            shop.routes[f"/{i}"] = ok
    open_cases(store, [(name, shop.url + f"/{i}", None) for i in range(6)
                       for name, shop in (("one", one), ("two", two), ("slow", slow))])
    markets = {"one": profile("one", one.url, concurrency=1),
               "two": profile("two", two.url, concurrency=2),
               "slow": profile("slow", slow.url, concurrency=4, delay=0.5)}
    got = evidence.capture(store, markets, chromium, retries=FAST)
    assert got.captured == 18
    assert one.most_in_flight == 1
    assert two.most_in_flight <= 2
    gaps = [b - a for a, b in zip(slow.starts, slow.starts[1:], strict=False)]
    assert min(gaps) >= 0.5  # politeness.delay after each answer: a lower bound only
    overall = serve.everywhere.most_in_flight  # type: ignore[attr-defined]
    assert 2 <= overall <= pacing.CONCURRENCY  # side by side, within the overall cap


def test_a_case_whose_marketplace_lost_its_profile_is_counted(
        store: Store, serve: Callable[[], Served], chromium: str) -> None:
    shop = serve()
    shop.routes["/x"] = ok
    ids = open_cases(store, [("gone", shop.url + "/x", None), ("shop", shop.url + "/x", None)])
    got = evidence.capture(store, {"shop": profile("shop", shop.url)}, chromium,
                           retries=FAST)
    assert got.captured == 1
    assert [c for c, _ in got.no_profile] == [ids[0]] and "'gone'" in got.no_profile[0][1]
    assert shop.hits["/x"] == 1


def test_cli_names_blocked_and_refused_cases_and_exits_3(
        tmp_path: Path, store: Store, serve: Callable[[], Served]) -> None:
    shop = serve()
    shop.routes["/wall"] = lambda n: (200, {}, CAPTCHA)
    shop.routes["/fine"] = ok
    folder = tmp_path / "markets"
    folder.mkdir()
    (folder / "shop.yaml").write_text(
        f"name: shop\ntitle: Shop\nbase_url: {shop.url}\ncurrency: USD\n"
        "notice_program: dmca\nsearch:\n  url: '{base_url}/s?q={keyword}'\n"
        "  pagination: {kind: next_link, next: 'a.next::attr(href)'}\n"
        "listing:\n  card: .card\n  fields: {listing_id: '::attr(id)', url: 'a::attr(href)',"
        " title: 'a::text'}\nblocked:\n  selectors: ['#captcha-form']\n")
    ids = open_cases(store, [("shop", shop.url + "/wall", None),
                             ("shop", "file:///etc/passwd", None),
                             ("shop", shop.url + "/fine", None)])
    result = CliRunner().invoke(cli, ["evidence", "capture", "--marketplaces", str(folder),
                                      "--db", str(store.path)])
    assert result.exit_code == 3, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("1 captured, 0 failed, 1 blocked, 1 refused")
    assert f"case {ids[0]}: " in result.output and "blocked page" in result.output
    assert f"case {ids[1]}: " in result.output and "scheme 'file'" in result.output


def test_the_sweep_summary_counts_blocked_and_refused_evidence() -> None:
    from crawler.sweep import summary
    from crawler.sweep.run import SweepResult

    result = SweepResult(sweep_id=4, status="ok", cases={
        "new": 5, "new_by_stage": {"review": 5}, "restaged": 0, "evidence_captured": 2,
        "evidence_failed": 0, "evidence_blocked": 2, "evidence_refused": 1,
        "evidence_no_profile": 0,
        "evidence_failures": ["case 3: http://x/3: blocked page ('#captcha-form' found)"]})
    lines = summary.text(result, "store.db")
    assert "  evidence: 2 captured, 2 blocked, 1 refused (run `brandsweep evidence capture` "\
        "to retry)" in lines
    assert "    case 3: http://x/3: blocked page ('#captcha-form' found)" in lines


def test_a_long_retry_after_is_cut_to_the_bound(store: Store, serve: Callable[[], Served],
                                                chromium: str) -> None:
    shop = serve()
    shop.routes["/later"] = lambda n: (429, {"Retry-After": "86400"}, b"") if n == 0 \
        else ok(n)
    open_cases(store, [("shop", shop.url + "/later", None)])
    bounded = evidence.Retries(attempts=2, backoff=0.01, retry_after_max=0.2)
    got = evidence.capture(store, {"shop": profile("shop", shop.url)}, chromium,
                           retries=bounded)
    assert got.captured == 1 and shop.hits["/later"] == 2


def test_the_first_image_is_fetched_only_where_the_policy_allows(
        store: Store, serve: Callable[[], Served], chromium: str) -> None:
    shop, elsewhere = serve(), serve()
    png = b"\x89PNG\r\n\x1a\n fake image bytes"
    shop.routes["/p1"] = shop.routes["/p2"] = ok
    shop.routes["/img.png"] = lambda n: (200, {"Content-Type": "image/png"}, png)
    shop.routes["/img-away"] = lambda n: (302, {"Location": elsewhere.url + "/x.png"}, b"")
    elsewhere.routes["/x.png"] = lambda n: (200, {"Content-Type": "image/png"}, png)
    ids = open_cases(store, [("shop", shop.url + "/p1", shop.url + "/img.png"),
                             ("shop", shop.url + "/p2", shop.url + "/img-away")])
    got = evidence.capture(store, {"shop": profile("shop", shop.url)}, chromium,
                           retries=FAST)
    assert got.captured == 2 and elsewhere.hits == {}
    assert rows(store, "select case_id, image_sha256 from evidence order by case_id") == [
        (ids[0], hashlib.sha256(png).hexdigest()), (ids[1], None)]
    assert rows(store, "select count(*) from case_events where case_id = ? and action = "
                "'evidence' and reason like '%image %refused%'", ids[1]) == [(1,)]


def _serve_a_slow_red_photo(shop: Any) -> None:
    """``/photo.png`` on ``shop``: a red square, a second after it is asked for (well after
    the page's script has drawn the product)."""
    import io

    from PIL import Image

    red = io.BytesIO()
    Image.new("RGB", (120, 120), (255, 0, 0)).save(red, "PNG")

    def slow_photo(n: int) -> Reply:
        time.sleep(1.0)
        return 200, {"Content-Type": "image/png"}, red.getvalue()

    shop.routes["/photo.png"] = slow_photo


def test_a_photo_the_page_s_script_adds_is_in_the_screenshot(
        store: Store, serve: Callable[[], Served], chromium: str) -> None:
    """An app draws its product (and the photo) after the load event; the screenshot is
    taken once the photo has loaded, not as soon as ``wait_for`` shows."""

    from PIL import Image

    shop = serve()
    _serve_a_slow_red_photo(shop)
    shop.routes["/app"] = lambda n: (200, {}, (
        b"<html><body style='margin:0'><script>addEventListener('load', () => {"
        b"const m = document.createElement('main'); m.className = 'pdp';"
        b"m.innerHTML = '<h1>Acme replica</h1>';"
        b"const i = new Image(); i.src = '/photo.png'; m.prepend(i);"
        b"document.body.appendChild(m); });</script></body></html>"))
    ids = open_cases(store, [("shop", shop.url + "/app", None)])
    market = {"shop": profile("shop", shop.url, evidence={"wait_for": "main.pdp"})}
    got = evidence.capture(store, market, chromium, retries=FAST)
    assert got.captured == 1
    shot = evidence.folder(store.path) / f"case-{ids[0]}" / "screenshot.png"
    with Image.open(shot) as im:
        assert im.convert("RGB").getpixel((60, 60)) == (255, 0, 0)


def test_a_page_taller_than_the_viewport_is_taken_whole(
        store: Store, serve: Callable[[], Served], chromium: str) -> None:
    import io

    from PIL import Image

    shop = serve()
    shop.routes["/long"] = lambda n: (200, {}, (
        b"<html><body style='margin:0'><div style='height:2500px;background:#fff'></div>"
        b"<div style='height:100px;background:#00f'></div></body></html>"))
    ids = open_cases(store, [("shop", shop.url + "/long", None)])
    got = evidence.capture(store, {"shop": profile("shop", shop.url)}, chromium,
                           retries=FAST)
    assert got.captured == 1
    png = (evidence.folder(store.path) / f"case-{ids[0]}" / "screenshot.png").read_bytes()
    with Image.open(io.BytesIO(png)) as im:
        assert im.format == "PNG" and im.size == (1280, 2600)
        assert im.convert("RGB").getpixel((640, 2550)) == (0, 0, 255)


def test_a_page_s_scripts_cannot_stall_or_fool_the_wait_for_its_images(
        store: Store, serve: Callable[[], Served], chromium: str) -> None:
    """The images are waited for by a script in a world of its own: a page that breaks
    timers, promises and the DOM's getters for its own scripts still gets its shot, with
    the photo, and is measured as it is."""

    from PIL import Image

    shop = serve()
    _serve_a_slow_red_photo(shop)
    shop.routes["/trap"] = lambda n: (200, {}, (
        b"<html><body style='margin:0'><div style='height:1500px'></div><script>"
        b"addEventListener('load', () => { const i = new Image(); i.src = '/photo.png';"
        b"i.style.display = 'block';"
        b"document.body.prepend(i);"
        b"window.setTimeout = () => 0; window.Promise = function () {};"
        b"Array.prototype.some = () => false; Math.max = () => 1;"
        b"Object.defineProperty(Document.prototype, 'images', {get() { throw 1; }});"
        b"});</script></body></html>"))
    ids = open_cases(store, [("shop", shop.url + "/trap", None)])
    got = evidence.capture(store, {"shop": profile("shop", shop.url)}, chromium,
                           retries=FAST)
    assert got.captured == 1, (got.failed, got.blocked)
    shot = evidence.folder(store.path) / f"case-{ids[0]}" / "screenshot.png"
    with Image.open(shot) as im:
        assert im.size == (1280, 1620)  # the photo (120 px) above the 1,500 px block
        assert im.convert("RGB").getpixel((60, 60)) == (255, 0, 0)


def test_a_listing_page_opens_no_websocket_popup_or_service_worker(
        store: Store, serve: Callable[[], Served], chromium: str) -> None:
    """Playwright's routes see none of these, so each would reach any address from the
    capturing machine: they are refused as in sweeps (``crawler.browser.pages``)."""
    shop, other = serve(), serve()
    port = other.url.rsplit(":", 1)[1]
    shop.routes["/sneaky"] = lambda n: (200, {}, (
        "<html><body><h1>Listing</h1><script>"
        f'try {{ new WebSocket("ws://127.0.0.1:{port}/ws"); }} catch (e) {{}}'
        f'try {{ window.open("http://127.0.0.1:{port}/popup"); }} catch (e) {{}}'
        'try { navigator.serviceWorker.register("/sw.js"); } catch (e) {}'
        "</script></body></html>").encode())
    shop.routes["/sw.js"] = lambda n: (200, {"Content-Type": "application/javascript"},
                                       f'fetch("http://127.0.0.1:{port}/sw");'.encode())
    open_cases(store, [("shop", shop.url + "/sneaky", None)])
    got = evidence.capture(store, {"shop": profile("shop", shop.url)}, chromium,
                           retries=FAST)
    time.sleep(1)  # anything the page set going would have arrived by now
    assert got.captured == 1, (got.failed, got.blocked)
    assert other.hits == {}
    assert "/sw.js" not in shop.hits  # service workers are blocked in the context
