"""Turning what a page shows into clean listing values: prices, currencies, text."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# longest first, so "US $" wins over "$" and "CN¥" over "¥"
_CURRENCY_MARKS: tuple[tuple[str, str | None], ...] = (
    ("US $", "USD"), ("US$", "USD"), ("USD", "USD"), ("CN¥", "CNY"), ("RMB", "CNY"),
    ("CNY", "CNY"), ("EUR", "EUR"), ("GBP", "GBP"), ("€", "EUR"), ("£", "GBP"),
    ("¥", "CNY"), ("$", None),  # a bare $ means the marketplace's own dollar
)
_NUMBER = re.compile(r"\d(?:[\d.,\s\u00a0\u202f]*\d)?")


def clean_text(value: str | None) -> str | None:
    """Collapse whitespace runs to one space and trim. Zero-width characters are kept:
    they are evidence (a counterfeiter's trick), not formatting."""
    if value is None:
        return None
    text = " ".join(value.split())
    return text or None


def _number(raw: str) -> Decimal | None:
    s = re.sub(r"[\s\u00a0\u202f]", "", raw)
    if "," in s and "." in s:
        # the later separator is the decimal one: 1,234.56 or 1.234,56
        s = s.replace(",", "") if s.rfind(".") > s.rfind(",") else \
            s.replace(".", "").replace(",", ".")
    elif "," in s:
        s = s.replace(",", ".") if re.search(r",\d{1,2}$", s) else s.replace(",", "")
    elif s.count(".") > 1 or re.search(r"\.\d{3}$", s):
        s = s.replace(".", "")  # 1.234 (thousands) as written in much of Europe
    try:
        return Decimal(s)
    except InvalidOperation:
        return None


def parse_price(text: str | None, default_currency: str) -> tuple[Decimal | None,
                                                                  Decimal | None, str]:
    """``"US $2.10 - 3.80"`` -> ``(2.10, 3.80, "USD")``; ``"129,00 €"`` -> ``(129.00, None,
    "EUR")``. A single price has no high end; the currency falls back to the profile's."""
    if not text:
        return None, None, default_currency
    currency = default_currency
    for mark, code in _CURRENCY_MARKS:
        if mark in text:
            currency = code or default_currency
            break
    numbers = [n for n in (_number(m) for m in _NUMBER.findall(text)) if n is not None]
    if not numbers:
        return None, None, currency
    low = numbers[0]
    high = numbers[1] if len(numbers) > 1 and numbers[1] != low else None
    if high is not None and high < low:
        low, high = high, low
    return low, high, currency


def parse_int(text: str | None) -> int | None:
    """``"1,234 sold"`` -> ``1234``."""
    if not text:
        return None
    m = re.search(r"\d[\d,.\s]*", text)
    if not m:
        return None
    digits = re.sub(r"\D", "", m.group())
    return int(digits) if digits else None
