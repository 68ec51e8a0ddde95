"""``brandsweep marketplaces list`` and ``check``: what a profile author runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.faults import parse_faults
from fixtures.server import FixtureServer

SCRIPT = str(Path(sys.executable).with_name("brandsweep"))


def run(server: FixtureServer | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if server is not None:
        env["BRANDSWEEP_FIXTURE_URL"] = server.url
    return subprocess.run([SCRIPT, "marketplaces", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_list_shows_every_profile() -> None:
    done = run(None, "list")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["bazaar", "megamart", "shopfront",
                                                   "tradehub"]
    assert "infinite_scroll" in done.stdout and "alibaba_ipp" in done.stdout


def test_check_shows_what_each_selector_found(fixture_server: FixtureServer) -> None:
    done = run(fixture_server, "check", "tradehub", "--keyword", "acme")
    assert done.returncode == 0, done.stdout
    assert "cards (.offer-card): 20" in done.stdout
    assert "title             20/20" in done.stdout
    assert "price             20/20" in done.stdout
    assert "card 1:" in done.stdout and "result: ok" in done.stdout


def test_check_points_at_a_changed_layout() -> None:
    with FixtureServer(port=0, hard=False, faults=parse_faults("layout:bazaar")) as server:
        done = run(server, "check", "bazaar", "--keyword", "acme")
    assert done.returncode == 3
    assert "cards (li.s-item): 0" in done.stdout
    assert "PROBLEM" in done.stdout


def test_check_says_when_a_page_needs_a_browser(fixture_server: FixtureServer) -> None:
    done = run(fixture_server, "check", "shopfront", "--keyword", "acme")
    assert done.returncode == 3
    assert "the page needs a browser (run again with --browser)" in done.stdout


@pytest.mark.browser
def test_check_in_the_browser(fixture_server: FixtureServer) -> None:
    done = run(fixture_server, "check", "shopfront", "--keyword", "acme", "--browser")
    assert done.returncode == 0, done.stdout
    assert "(browser, HTTP 200)" in done.stdout
    assert "cards (article.product-tile): 20" in done.stdout


def test_check_unknown_marketplace_exit_2() -> None:
    done = run(None, "check", "ebay", "--keyword", "x")
    assert done.returncode == 2
    assert done.stderr.startswith("Error: unknown marketplace 'ebay'")


def test_check_with_a_bad_selector_is_one_line_exit_2(tmp_path: Path) -> None:
    bazaar = (Path(__file__).parent.parent / "spiders" / "marketplaces" / "bazaar.yaml")
    (tmp_path / "bazaar.yaml").write_text(bazaar.read_text().replace(
        "  card: li.s-item", "  card: div[["))
    done = run(None, "check", "bazaar", "--keyword", "x", "--marketplaces", str(tmp_path))
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"Error: {tmp_path / 'bazaar.yaml'}:16:3: listing.card: CSS selector 'div[[' does "
        "not parse: Expected ident or '*', got <DELIM '[' at 4>"]


def _check_against_a_redirect(*extra: str) -> subprocess.CompletedProcess[str]:
    """``marketplaces check tradehub`` against a server whose every page redirects to
    another host."""
    import http.server
    import threading

    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", "http://elsewhere.example/phish")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = dict(os.environ, BRANDSWEEP_FIXTURE_URL=f"http://127.0.0.1:{server.server_port}")
        return subprocess.run([SCRIPT, "marketplaces", "check", "tradehub", "--keyword", "x",
                               *extra], capture_output=True, text=True, env=env, timeout=120)
    finally:
        server.shutdown()
        server.server_close()


def test_check_refuses_an_off_site_redirect() -> None:
    done = _check_against_a_redirect()
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: http://127.0.0.1:"), lines
    assert "redirects to http://elsewhere.example/phish, which the profile does not " \
           "allow" in lines[0]


@pytest.mark.browser
def test_check_in_the_browser_refuses_an_off_site_redirect() -> None:
    done = _check_against_a_redirect("--browser")
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: http://127.0.0.1:"), lines
    assert "leads to http://elsewhere.example/phish (a redirect), which the profile does " \
           "not allow" in lines[0]


def test_check_reports_a_selector_that_fails_only_on_real_text(
        fixture_server: FixtureServer, tmp_path: Path) -> None:
    tradehub = Path(__file__).parent.parent / "spiders" / "marketplaces" / "tradehub.yaml"
    text = tradehub.read_text()
    start = text.index("    title:")
    end = text.index("\n", start)
    # an EXSLT regex that is not a literal is compiled (by Python's re) only on text
    (tmp_path / "tradehub.yaml").write_text(
        text[:start] + "    title: {xpath: \".//a[re:test(., concat('[', ''))]\"}" + text[end:])
    done = run(fixture_server, "check", "tradehub", "--keyword", "acme", "--marketplaces",
               str(tmp_path))
    assert done.returncode == 3, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert f"error: a selector of {tmp_path / 'tradehub.yaml'} fails on this page" in \
        done.stdout


def test_check_detail_shows_every_detail_field_and_the_parsed_price(
        fixture_server: FixtureServer) -> None:
    """Rough edge: check showed only search-card fields, and prices only as raw text."""
    done = run(fixture_server, "check", "megamart", "--keyword", "acme", "--detail")
    assert done.returncode == 0, done.stdout
    out = done.stdout
    assert f"detail page: {fixture_server.url}/megamart/" in out and "(HTTP 200)" in out
    for name in ("seller", "seller_location", "description"):
        assert any(line.split()[:2] == [name, "found"] for line in out.splitlines()), out
    assert "GBP" in out and "    price: '£" in out and "-> " in out
    # the price as brandsweep stores it, beside the text the page shows
    price_line = next(line for line in out.splitlines() if line.startswith("    price: "))
    assert price_line.endswith(" GBP")


def test_check_detail_without_detail_fields_says_so(fixture_server: FixtureServer) -> None:
    done = run(fixture_server, "check", "tradehub", "--keyword", "acme", "--detail")
    assert done.returncode == 3
    assert "detail page: " in done.stdout and "has no detail.fields" in done.stdout
