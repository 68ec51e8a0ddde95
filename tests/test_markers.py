"""Block pages and "no results" messages, as a profile's CSS, XPath or text describe them."""

from __future__ import annotations

from pathlib import Path

from parsel import Selector

from crawler.extract import markers
from crawler.profiles.loading import load_profile
from crawler.profiles.model import MarketplaceProfile

BAZAAR = Path(__file__).parent.parent / "spiders" / "marketplaces" / "bazaar.yaml"


def _profile(tmp_path: Path, blocked: str = "", no_results: str = ".none"
             ) -> MarketplaceProfile:
    text = BAZAAR.read_text().replace("  no_results: .srp-save-null-search",
                                      f"  no_results: {no_results}")
    if blocked:
        start = text.index("blocked:")
        end = text.index("removed:")
        text = text[:start] + blocked + text[end:]
    path = tmp_path / "bazaar.yaml"
    path.write_text(text)
    return load_profile(path)


def test_blocked_by_css_xpath_or_text(tmp_path: Path) -> None:
    profile = _profile(tmp_path, "blocked:\n  selectors: ['#captcha-form']\n"
                       "  xpath: [\"//h1[contains(., 'Access denied')]\"]\n"
                       "  text: ['Verify you are a human']\n")
    assert markers.blocked_marker(profile, '<form id="captcha-form"></form>') == \
        "#captcha-form"
    assert markers.blocked_marker(profile, "<h1>Access denied</h1>") == \
        "//h1[contains(., 'Access denied')]"
    assert markers.blocked_marker(profile, "<p>please VERIFY you are a human</p>") == \
        "Verify you are a human"
    assert markers.blocked_marker(profile, "<p>fine</p>") is None
    # selectors are for HTML only; a JSON answer is read for the text
    assert markers.blocked_marker(profile, '{"id": "captcha-form"}',
                                  "application/json") is None
    page = Selector(text='<div id="captcha-form"></div>')
    assert markers.blocked_marker(profile, page.get(), page=page) == "#captcha-form"


def test_no_results_in_every_form(tmp_path: Path) -> None:
    html = '<main><p class="none">No results for "acme"</p></main>'
    for written in (".none", "//p[@class='none']", "{text: no RESULTS for}"):
        profile = _profile(tmp_path, no_results=written)
        assert markers.no_results_shown(profile, html), written
        assert markers.no_results_shown(profile, Selector(text=html)), written
        assert not markers.no_results_shown(profile, "<main><li>a listing</li></main>")


def test_wait_selectors_for_the_browser(tmp_path: Path) -> None:
    profile = _profile(tmp_path, "blocked:\n  selectors: ['#captcha']\n"
                       "  text: ['say \"hi\"']\n", no_results="{text: Nothing}")
    assert markers.wait_selectors(profile) == [
        'body:has-text("Nothing")', "#captcha", 'body:has-text("say \\"hi\\"")']
