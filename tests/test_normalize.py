"""Prices and text as marketplaces print them, normalised."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crawler.normalize import clean_text, parse_int, parse_price


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
