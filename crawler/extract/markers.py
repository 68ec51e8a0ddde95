"""What a page says about itself: a block page (CAPTCHA, bot wall, login wall) or the
marketplace's "no results" message, as a profile's ``blocked`` and ``listing.no_results``
describe them (CSS, XPath or text).

The one place these are decided, for the spider, ``marketplaces check`` and evidence.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from lxml import etree
from parsel import Selector

from crawler.extract import fields as extract
from crawler.profiles.model import Marker, MarketplaceProfile
from crawler.profiles.selectors import XPATH_NAMESPACES


@lru_cache(maxsize=256)
def _xpath(expression: str) -> etree.XPath:
    return etree.XPath(expression, namespaces=XPATH_NAMESPACES, smart_strings=False)


def _tree(page: Any, text: str) -> Any:
    """An lxml tree for the page: the one a response or selector already parsed, or
    ``text`` parsed now."""
    if page is not None and not isinstance(page, str):
        return page
    return Selector(text=text or "<html></html>")


def _xpath_found(expression: str, node: Any) -> bool:
    root = extract.root(node)
    found = _xpath(expression)(root) if root is not None else node.xpath(expression)
    return bool(found)  # a node set, or a boolean, number or string from an expression


def blocked_marker(profile: MarketplaceProfile, text: str,
                   content_type: str | None = "text/html", *, page: Any = None
                   ) -> str | None:
    """The marker of ``profile.blocked`` that ``text`` shows (the selector, XPath or
    text, as the profile writes it), or None. Selectors are only tried on HTML; ``page``
    may be the already parsed response or ``Selector`` of ``text``, to parse it once."""
    blocked = profile.blocked
    is_html = content_type is None or "html" in content_type.lower()
    if is_html and (blocked.selectors or blocked.xpath):
        node: Any = None
        for css in blocked.selectors:
            if extract.cannot_match(css, text):
                continue
            node = node if node is not None else _tree(page, text)
            if extract.select(css, node):
                return css
        for expression in blocked.xpath:
            node = node if node is not None else _tree(page, text)
            if _xpath_found(expression, node):
                return expression
    if blocked.text:
        body = text.casefold()
        return next((t for t in blocked.text if t.casefold() in body), None)
    return None


def shown(marker: Marker, text: str, page: Any = None) -> bool:
    """True when the page (its ``text``, and ``page`` if already parsed) shows ``marker``."""
    if marker.text is not None:
        return marker.text.casefold() in text.casefold()
    if marker.css is not None:
        return (not extract.cannot_match(marker.css, text)
                and bool(extract.select(marker.css, _tree(page, text))))
    assert marker.xpath is not None
    return _xpath_found(marker.xpath, _tree(page, text))


def no_results_shown(profile: MarketplaceProfile, response_or_text: Any) -> bool:
    """True when the page (a Scrapy response, a parsel ``Selector`` or the HTML text)
    shows the marketplace's "no results" message; False when the profile names none."""
    marker = profile.listing.no_results
    if marker is None:
        return False
    if isinstance(response_or_text, str):
        return shown(marker, response_or_text)
    text = getattr(response_or_text, "text", None)
    if text is None:  # a parsel Selector
        text = response_or_text.get() or ""
    return shown(marker, text, response_or_text)


def _has_text(text: str) -> str:
    quoted = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'body:has-text("{quoted}")'


def wait_selectors(profile: MarketplaceProfile) -> list[str]:
    """Playwright selectors (CSS, with its ``:has-text``) for the no-results and blocked
    markers, so a browser stops waiting for listings once one shows. XPath markers cannot
    join a CSS list: the page is then read when the wait ends, and judged the same."""
    out = []
    marker = profile.listing.no_results
    if marker is not None and marker.css is not None:
        out.append(marker.css)
    elif marker is not None and marker.text is not None:
        out.append(_has_text(marker.text))
    out.extend(profile.blocked.selectors)
    out.extend(_has_text(t) for t in profile.blocked.text)
    return out
