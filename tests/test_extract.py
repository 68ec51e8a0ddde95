"""Reading field specs out of pages: compiled selectors and the block-marker shortcut."""

from __future__ import annotations

import pytest
from scrapy.http import HtmlResponse

from crawler.extract import fields as extract
from crawler.profiles.model import FieldSpec

PAGE = """<html><body>
<ul><li class="s-item" data-listing-id="1"><a class="s-item__link" href="/itm/1">x</a>
  <span class="s-item__title"> Acme   Pulse </span></li>
<li class="s-item" data-listing-id="2"><a class="s-item__link" href="https://b.example/2">y</a>
  <span class="s-item__title">Velora</span></li></ul>
<form id="captcha-form"></form>
</body></html>"""


def response(body: str = PAGE) -> HtmlResponse:
    return HtmlResponse(url="http://m.example/sch?q=a", body=body.encode(), encoding="utf-8")


def test_cards_selected_as_elements_read_like_parsel_selectors() -> None:
    cards = extract.select("li.s-item", response())
    assert len(cards) == 2
    title = FieldSpec(css=".s-item__title::text")
    assert [extract.field(title, c) for c in cards] == ["Acme Pulse", "Velora"]
    assert [extract.field(title, c) for c in response().css("li.s-item")] == [
        "Acme Pulse", "Velora"]
    assert extract.field(FieldSpec(css="::attr(data-listing-id)"), cards[1]) == "2"


@pytest.mark.parametrize(("css", "source", "expected"), [
    ("#captcha-form", PAGE, False),
    ("#captcha-form", "<html><p>results</p></html>", True),
    (".g-recaptcha", PAGE, True),
    ("form#captcha-form.big", PAGE, True),  # needs class "big" too
    # alternatives, attributes, pseudo-classes and escapes are never ruled out by text
    ("#nowhere, .also-nowhere", PAGE, False),
    ('[data-x="nowhere"]', PAGE, False),
    (".nowhere:not(.x)", PAGE, False),
    ("#no\\.where", PAGE, False),
])
def test_cannot_match_only_rules_out_what_the_text_proves(css: str, source: str,
                                                          expected: bool) -> None:
    assert extract.cannot_match(css, source) is expected


@pytest.mark.parametrize("css", ["#captcha-form", "form#captcha-form", "li.s-item",
                                 "ul li.s-item span.s-item__title", ".g-recaptcha",
                                 "form#captcha-form.big"])
def test_cannot_match_never_contradicts_the_selector(css: str) -> None:
    if extract.select(css, response()):
        assert not extract.cannot_match(css, PAGE)
