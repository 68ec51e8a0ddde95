"""Prices and text as marketplaces print them, normalised."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.extract.normalize import (
    CURRENCY_MARKS,
    MAX_PRICE,
    clean_text,
    currency_of,
    parse_int,
    parse_price,
    read_price,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("$1,234.56", (Decimal("1234.56"), None, "USD")),
    ("US $2.10 - 3.80", (Decimal("2.10"), Decimal("3.80"), "USD")),
    ("US $23.99", (Decimal("23.99"), None, "USD")),
    ("129,00 €", (Decimal("129.00"), None, "EUR")),
    ("1.234,56 €", (Decimal("1234.56"), None, "EUR")),
    ("£23.99", (Decimal("23.99"), None, "GBP")),
    ("¥ 88", (Decimal("88"), None, "CNY")),
    ("EUR 10 - 8", (Decimal("8"), Decimal("10"), "EUR")),
    ("free shipping", (None, None, "USD")),
    (None, (None, None, "USD")),
])
def test_parse_price(text: str | None, expected: tuple[object, object, str]) -> None:
    assert parse_price(text, "USD") == expected


def test_bare_dollar_is_the_marketplaces_own_currency() -> None:
    assert parse_price("$5.00", "CAD") == (Decimal("5.00"), None, "CAD")


def test_clean_text_keeps_zero_width_evidence() -> None:
    assert clean_text("  A\u200bc\u200bm\u200be \n Pulse  ") == "A\u200bc\u200bm\u200be Pulse"
    assert clean_text("   ") is None


def test_parse_int() -> None:
    assert parse_int("1,234 sold") == 1234
    assert parse_int("Min. order: 100 pieces") == 100
    assert parse_int("none") is None


# -- the probes that went wrong -----------------------------------------------------------

@pytest.mark.parametrize("text", ["-5", "-$5", "$-5", "−5 €", "EUR -5", "Price: -12.00",
                                  "- 5", "-US $2.10"])
def test_a_negative_price_is_not_stored(text: str) -> None:
    reading = read_price(text, "USD")
    assert (reading.low, reading.high) == (None, None)
    assert reading.problem is not None and "negative" in reading.problem


@pytest.mark.parametrize("text", ["NaN", "nan", "$NaN", "inf", "-inf", "Infinity", "1e309",
                                  "$1e400", "1E+999 USD"])
def test_a_non_finite_price_is_not_stored(text: str) -> None:
    reading = read_price(text, "USD")
    assert (reading.low, reading.high) == (None, None)
    assert reading.problem is not None
    assert "not a finite number" in reading.problem or "not a number" in reading.problem


@pytest.mark.parametrize("text", ["$1,000,000,001", "99999999999", "US $2.10 - 5e12",
                                  "1e10", "€ 1.000.000.000,01"])
def test_an_absurd_price_is_not_stored(text: str) -> None:
    reading = read_price(text, "USD")
    assert (reading.low, reading.high) == (None, None)
    assert reading.problem is not None and "1,000,000,000" in reading.problem


def test_the_largest_sensible_price_and_a_zero_one_are_kept() -> None:
    assert read_price("$1,000,000,000", "USD").low == MAX_PRICE
    assert read_price("$0.00", "USD") == read_price("0.00", "USD")
    assert read_price("$0.00", "USD").problem is None
    assert read_price("1e5", "USD").low == Decimal("100000")  # as a JSON API may write it


def test_a_range_dash_is_not_a_minus() -> None:
    for text in ("US $2.10 - 3.80", "US $2.10 – 3.80", "$2.10-$3.80", "2.10 ~ 3.80 USD",
                 "2.10 to 3.80 USD"):
        assert parse_price(text, "USD") == (Decimal("2.10"), Decimal("3.80"), "USD"), text
    assert read_price("Now - $5", "USD").low == Decimal("5")  # a label's dash


def test_indian_grouping_is_rupees() -> None:
    assert parse_price("₹1,23,456.00", "USD") == (Decimal("123456.00"), None, "INR")


@pytest.mark.parametrize(("text", "profile", "currency"), [
    ("₹499", "USD", "INR"), ("Rs. 500", "USD", "INR"), ("Rs. 500", "PKR", "PKR"),
    ("¥1,234", "USD", "CNY"), ("¥1,234", "JPY", "JPY"), ("￥88.00", "USD", "CNY"),
    ("1000円", "USD", "JPY"), ("JP¥ 100", "USD", "JPY"), ("88元", "USD", "CNY"),
    ("CN¥ 12", "JPY", "CNY"), ("RMB 12.5", "USD", "CNY"),
    ("₩10,000", "USD", "KRW"), ("R$ 10,50", "USD", "BRL"), ("12,99 zł", "EUR", "PLN"),
    ("99 kr", "USD", "SEK"), ("99 kr", "NOK", "NOK"), ("99 kr", "DKK", "DKK"),
    ("$5", "EUR", "USD"), ("$5", "AUD", "AUD"), ("US $5", "CAD", "USD"),
    ("CA $5", "USD", "CAD"), ("C$ 5", "USD", "CAD"), ("HK$ 12", "USD", "HKD"),
    ("A$12", "USD", "AUD"), ("NZD $5", "USD", "NZD"), ("£5", "USD", "GBP"),
    ("CHF 12.50", "EUR", "CHF"), ("SEK 99", "USD", "SEK"), ("5 USD", "EUR", "USD"),
    ("₽ 100", "USD", "RUB"), ("₺12", "USD", "TRY"), ("฿300", "USD", "THB"),
    ("Rp 10.000", "USD", "IDR"), ("RM 12.90", "USD", "MYR"), ("₫ 100000", "USD", "VND"),
    ("12 Ft", "EUR", "HUF"), ("100 Kč", "EUR", "CZK"), ("₪ 100", "USD", "ILS"),
    ("12.00", "EUR", "EUR"), ("Price: 12.00", "GBP", "GBP"),
])
def test_currency_marks_are_iso_codes(text: str, profile: str, currency: str) -> None:
    reading = read_price(text, profile)
    assert (reading.currency, reading.problem) == (currency, None), text
    assert reading.low is not None


def test_every_mark_in_the_table_is_read_as_one_of_its_codes() -> None:
    for mark, codes in CURRENCY_MARKS.items():
        assert codes and all(len(c) == 3 and c.isupper() for c in codes), mark
        for text in (f"{mark} 12", f"12 {mark}"):
            assert currency_of(text, "XTS") in codes, (mark, text)


def test_a_currency_nobody_maps_is_not_guessed() -> None:
    reading = read_price("₿ 0.0042", "USD")
    assert reading.low is None and reading.problem is not None
    assert "CURRENCY_MARKS" in reading.problem


def test_gb18030_pages_read_like_utf8_ones() -> None:
    for text in ("US $2.10 - 3.80", "￥88.00 - 120.00", "价格：US $1,234.00 / 件"):
        page = text.encode("gb18030").decode("gb18030")
        assert parse_price(page, "USD") == parse_price(text, "USD")
    assert parse_price("价格：US $1,234.00 / 件", "USD") == (Decimal("1234.00"), None, "USD")
    assert parse_price("￥88.00 - 120.00", "USD") == (Decimal("88.00"), Decimal("120.00"),
                                                     "CNY")


def test_a_refusal_quotes_the_page_briefly() -> None:
    problem = read_price("-" + "9" * 500, "USD").problem
    assert problem is not None and len(problem) < 120


@given(st.decimals(min_value=0, max_value=MAX_PRICE, places=2, allow_nan=False))
def test_any_sensible_price_reads_back_exactly(value: Decimal) -> None:
    assert parse_price(f"${value:,.2f}", "USD") == (value, None, "USD")
    whole, cents = f"{value:,.2f}".split(".")
    assert parse_price(f"{whole.replace(',', '.')},{cents} €", "USD") == (value, None, "EUR")


# -- through a real sweep: the store and the summary ---------------------------------------

PRICES = {"p-neg": "-5", "p-big": "1e309", "p-inr": "₹1,23,456.00", "p-nan": "NaN",
          "p-ok": "US $2.10 - 3.80", "p-eur": "129,00 €", "p-huge": "$12,000,000,000"}


class _Shop(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/search"):
            cards = "".join(f'<li class="card" data-id="{lid}"><a class="link" '
                            f'href="/item/{lid}">Acme Pulse X2 {lid}</a>'
                            f'<span class="price">{price}</span></li>'
                            for lid, price in PRICES.items())
            body = f"<html><body><ul>{cards}</ul></body></html>".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
        else:
            body = b"not here"
            self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def shop() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Shop)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_sweep_stores_no_bad_price_and_counts_each(shop: str, tmp_path: Path) -> None:
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "pricey.yaml").write_text(f"""\
name: pricey
title: A shop printing every kind of price
base_url: {shop}
currency: USD
notice_program: email
search:
  url: "{{base_url}}/search?q={{keyword}}"
  render: http
  pagination: {{kind: next_link, next: "a.next::attr(href)", max_pages: 1}}
listing:
  card: li.card
  fields:
    listing_id: ::attr(data-id)
    url: a.link::attr(href)
    title: a.link::text
    price: .price::text
politeness: {{robots_txt: false, autothrottle: false}}
""")
    db = tmp_path / "store.db"
    script = str(Path(sys.executable).with_name("brandsweep"))
    args = [script, "crawl", "--campaign", "prices", "--keyword", "acme", "--marketplace",
            "pricey", "--marketplaces", str(folder), "--db", str(db)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pricey: 4 prices not stored" in done.stdout  # -5, 1e309, NaN, 12 billion
    con = sqlite3.connect(db)
    stored = {r[0]: r[1:] for r in con.execute(
        "select listing_id, price, price_high, currency from listings")}
    con.close()
    assert stored == {
        "p-neg": (None, None, "USD"), "p-big": (None, None, "USD"),
        "p-nan": (None, None, "USD"), "p-huge": (None, None, "USD"),
        "p-inr": ("123456.00", None, "INR"), "p-ok": ("2.10", "3.80", "USD"),
        "p-eur": ("129.00", None, "EUR")}
    as_json = subprocess.run([*args, "--json"], capture_output=True, text=True, timeout=300)
    assert json.loads(as_json.stdout)["marketplaces"]["pricey"]["price_warnings"] == 4
