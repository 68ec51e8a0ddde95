"""Listing text is written by whoever made the listing, counterfeiters included: every
output we produce treats titles, sellers, listing ids and URLs as hostile.

One function per output's rule, used by the notice exports and the sweep report alike:

- ``shown``: for anything a person reads (text, Markdown, HTML, email): one line (a title
  cannot forge lines of a notice or headers of an email), control and bidirectional
  override characters made visible as ``[U+202E]`` (they could hide or reorder text), and
  very long values cut.
- ``markdown``: HTML and Markdown syntax escaped, so a title is text and never a tag, a
  link, emphasis or a table cell of its own; ``markdown_link`` links web URLs only.
- ``shown_url``: a URL on one line, the same address (odd characters percent-encoded).
- ``is_web_url``: only ``http``/``https`` URLs become links (no ``javascript:``, ``data:``).
- ``csv_cell``: the OWASP rule against formula injection.
- ``json_text``: JSON with invisible separators and overrides as ``\\u`` escapes.
- ``money``: a price as a sentence says it, never ``None``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any
from urllib.parse import quote, urlsplit

TITLE_LIMIT = 500  # characters of a title a notice or report shows; the JSON keeps all
NAME_LIMIT = 200  # sellers and listing ids

# reorder or hide text around them ("Trojan Source"): shown, never applied
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_LINE_BREAKS = re.compile(r"[\s\u2028\u2029\x85]+")
# what ``_hidden`` tells, for a whole string in one search (a report shows thousands):
# category Cc is exactly U+0000-001F and U+007F-009F, Zl U+2028, Zp U+2029
_HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029" + "".join(sorted(_BIDI)) + "]")
# a cell starting with one of these is a formula to Excel, LibreOffice and Sheets
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# inline syntax anywhere in a line (values never start a line: they are one line each)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()!|~])")
_HTML_SPECIAL = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# JSON allows these raw inside strings; a viewer would hide or apply them
_JSON_ESCAPES = {ord(c): f"\\u{ord(c):04x}" for c in
                 (*_BIDI, "\u2028", "\u2029", "\x7f", *map(chr, range(0x80, 0xa0)))}


class Verbatim(str):
    """Text a template writes as it is: already escaped for its format, or ours."""

    __slots__ = ()


def _hidden(char: str) -> bool:
    """Control characters, bidi overrides, line and paragraph separators."""
    return char in _BIDI or unicodedata.category(char) in ("Cc", "Zl", "Zp")


def _visible(char: str) -> str:
    return f"[U+{ord(char):04X}]" if _hidden(char) else char


def shown(value: Any, limit: int | None = None) -> Any:
    """``value`` as a person should see it: one line, control and override characters
    visible, at most ``limit`` characters. Anything but text is returned as it is."""
    if not isinstance(value, str):
        return value
    text = _LINE_BREAKS.sub(" ", value).strip()
    if _HIDDEN.search(text):
        text = "".join(_visible(c) for c in text)
    if limit is not None and len(text) > limit:
        text = f"{text[:limit]}... ({len(text) - limit} more characters)"
    return text


def shown_url(value: Any) -> Any:
    """A URL as a person should see it: spaces, control and override characters
    percent-encoded (as a browser would send them), so it stays one line and the same
    address. Anything but text is returned as it is."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if any(c.isspace() or _hidden(c) for c in text):
        text = "".join(quote(c) if c.isspace() or _hidden(c) else c for c in text)
    return text


def is_web_url(url: Any) -> bool:
    """Whether ``url`` may be a link: ``http`` or ``https`` with a host, no spaces."""
    if not isinstance(url, str) or any(c.isspace() or _hidden(c) for c in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def markdown(value: Any) -> str:
    """``value`` as Markdown text: HTML characters as entities, Markdown syntax
    backslash-escaped."""
    text = "".join(_HTML_SPECIAL.get(c, c) for c in str(value))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def markdown_link(text: Any, url: Any) -> Verbatim:
    """``[text](<url>)`` for a web URL; the text and the URL as plain text otherwise."""
    if not is_web_url(url):
        return Verbatim(f"{markdown(text)} (not a web address, no link: {markdown(url)})")
    # a destination in <...>: spaces, <, > and | (a table's cell border) percent-encoded
    target = quote(str(url), safe="!#$%&'()*+,-./:;=?@[]_~")
    return Verbatim(f"[{markdown(text)}](<{target}>)")


def markdown_fence(body: str) -> Verbatim:
    """A code fence longer than any run of backticks in ``body``: it cannot be closed
    from inside."""
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    return Verbatim("`" * max(3, longest + 1))


def csv_cell(value: Any) -> Any:
    """OWASP's rule against CSV formula injection: a text cell that starts with ``=``,
    ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``. Line breaks stay
    (the writer quotes them); other control and override characters are made visible."""
    if not isinstance(value, str):
        return value
    if any(_hidden(c) and c not in "\t\n\r" for c in value):
        # spreadsheets cut at NUL and apply overrides: shown as [U+0000], like elsewhere
        value = "".join(c if c in "\t\n\r" else _visible(c) for c in value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def json_text(data: Any, indent: int | None = 2, sort_keys: bool = False) -> str:
    """``data`` as JSON (UTF-8 kept readable) with bidi overrides, line and paragraph
    separators and C1 controls as ``\\u`` escapes: the same values, nothing hidden."""
    text = json.dumps(data, indent=indent, ensure_ascii=False, sort_keys=sort_keys,
                      default=str)
    return text.translate(_JSON_ESCAPES) + "\n"


def money(price: Any, currency: Any = None) -> str:
    """``"20.00 USD"``; ``"price not shown"`` when the listing showed none we could store."""
    if price is None or price == "":
        return "price not shown"
    amount = str(price)
    return f"{amount} {currency}" if currency else f"{amount} (currency not shown)"
