"""Selectors in profiles, compiled when a profile loads: CSS (through parsel's translation
to XPath) and XPath with EXSLT regular expressions, whose patterns RE2 must accept."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated

import re2
from cssselect import SelectorError
from lxml import etree
from parsel.csstranslator import css2xpath
from pydantic import AfterValidator

RE2_QUIET = re2.Options()
RE2_QUIET.log_errors = False  # reported as a load error, not logged to stderr by RE2
XPATH_NAMESPACES = {"re": "http://exslt.org/regular-expressions"}
_EXSLT_REGEX = re.compile(
    r"""re:(?:test|match|replace)\s*\([^,]*,\s*(?P<q>['"])(?P<pattern>.*?)(?P=q)""")
_EMPTY_PAGE = etree.fromstring("<html><body><div>x</div></body></html>")


@lru_cache(maxsize=1024)
def css_problem(css: str) -> str | None:
    """Why a CSS selector cannot be used, or None. It is compiled the way parsel does
    (so ``::text`` and ``::attr(name)`` are fine) and run once on a tiny page."""
    if not css.strip():
        return "CSS selector is empty: write one, or remove the entry"
    try:
        etree.XPath(css2xpath(css), namespaces=XPATH_NAMESPACES)(_EMPTY_PAGE)
    except (SelectorError, etree.XPathError) as exc:
        return f"CSS selector {css!r} does not parse: {exc}"
    return None


@lru_cache(maxsize=1024)
def xpath_problem(xpath: str) -> str | None:
    """Why an XPath expression cannot be used, or None. lxml compiles some broken
    expressions (an unknown function) without complaint, so it is also run once."""
    if not xpath.strip():
        return "XPath is empty: write one, or remove the entry"
    try:
        etree.XPath(xpath, namespaces=XPATH_NAMESPACES)(_EMPTY_PAGE)
    except etree.XPathError as exc:
        return f"XPath {xpath!r} does not parse: {exc}"
    # lxml compiles an EXSLT regex (Python's re) only when it meets text: try the
    # literal ones now
    for m in _EXSLT_REGEX.finditer(xpath):
        try:
            re.compile(m.group("pattern"))
        except re.error as exc:
            return f"XPath {xpath!r}: the regex {m.group('pattern')!r} does not compile: {exc}"
    return None


def _css(value: str) -> str:
    if (problem := css_problem(value)) is not None:
        raise ValueError(problem)
    return value


def _xpath(value: str) -> str:
    if (problem := xpath_problem(value)) is not None:
        raise ValueError(problem)
    return value


Css = Annotated[str, AfterValidator(_css)]
XPath = Annotated[str, AfterValidator(_xpath)]


