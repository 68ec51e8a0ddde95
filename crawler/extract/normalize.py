"""Turning what a page shows into clean listing values: prices, currencies, text.

Prices are read by Zyte's ``price-parser`` (separators, grouping such as ``1,23,456.00``,
the currency mark wherever it stands); what it does not decide is decided here: the ISO
4217 code a mark stands for (one explicit table), the high end of a range, and which
values are refused (negative, not a number, absurdly large, an unknown currency).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from price_parser import Price

# A price above this is a page bug or a trick ("1e309", "99999999999"), never an offer.
MAX_PRICE = Decimal(10) ** 9

# The currency mark as the page (or price-parser) gives it -> the ISO 4217 codes it may
# mean, the usual one first. An ambiguous mark ($, ¥, kr, ...) is the profile's currency
# when that is one of its codes, else the first. A three-letter code price-parser finds
# (USD, SEK, ...) is taken as it is; a mark in neither is refused (see read_price).
CURRENCY_MARKS: dict[str, tuple[str, ...]] = {
    # dollars
    "$": ("USD", "CAD", "AUD", "NZD", "HKD", "SGD", "TWD", "MXN", "ARS", "CLP", "COP",
          "BSD", "BBD", "BZD", "BMD", "BND", "FJD", "GYD", "JMD", "KYD", "LRD", "NAD",
          "SBD", "SRD", "TTD", "XCD", "UYU", "DOP", "CUP", "CVE"),
    "US$": ("USD",), "USD$": ("USD",), "CA$": ("CAD",), "C$": ("CAD", "NIO"),
    "AU$": ("AUD",), "A$": ("AUD",), "NZ$": ("NZD",), "HK$": ("HKD",), "S$": ("SGD",),
    "SG$": ("SGD",), "NT$": ("TWD",), "MX$": ("MXN",), "AR$": ("ARS",), "CL$": ("CLP",),
    "CO$": ("COP",), "BN$": ("BND",), "BZ$": ("BZD",), "Bds$": ("BBD",), "CUC$": ("CUC",),
    "MOP$": ("MOP",), "CV$": ("CVE",), "TT$": ("TTD",), "RD$": ("DOP",), "WS$": ("WST",),
    "J$": ("JMD",), "N$": ("NAD",), "T$": ("TOP",), "Z$": ("ZWL",), "$U": ("UYU",),
    "R$": ("BRL",),
    # euro, pound, yen and yuan
    "€": ("EUR",), "euro": ("EUR",), "eur": ("EUR",),
    "£": ("GBP", "GIP", "FKP", "SHP"), "SY£": ("SYP",), "LB£": ("LBP",),
    "¥": ("CNY", "JPY"), "￥": ("CNY", "JPY"), "CN¥": ("CNY",), "JP¥": ("JPY",),
    "円": ("JPY",), "元": ("CNY", "TWD", "HKD"),
    "RMB": ("CNY",),
    # the rest of Europe
    "zł": ("PLN",), "Zł": ("PLN",), "pln": ("PLN",), "Kč": ("CZK",), "Ft": ("HUF",),
    "kr": ("SEK", "NOK", "DKK", "ISK"), "Fr.": ("CHF",),
    "lei": ("RON", "MDL"), "Lei": ("RON", "MDL"), "LEI": ("RON", "MDL"), "leu": ("RON", "MDL"),
    "лв": ("BGN",), "лв.": ("BGN",), "дин.": ("RSD",), "динар": ("RSD",), "Dinara": ("RSD",),
    "ден": ("MKD",), "KM": ("BAM",), "₽": ("RUB",), "руб": ("RUB",), "руб.": ("RUB",),
    "р.": ("RUB", "BYN"), "р": ("RUB",), "Р": ("RUB",), "Br": ("BYN", "ETB"),
    "₴": ("UAH",), "грн": ("UAH",), "грн.": ("UAH",), "₺": ("TRY",), "TL": ("TRY",),
    "₾": ("GEL",), "֏": ("AMD",), "դր.": ("AMD",), "դր": ("AMD",), "₼": ("AZN",),
    "ман.": ("AZN",),
    # Asia and the Pacific
    "₹": ("INR",), "र": ("INR",), "Rs": ("INR", "PKR", "LKR", "NPR", "MUR", "SCR"),
    "Rs.": ("INR", "PKR", "LKR", "NPR", "MUR", "SCR"),
    "₨": ("INR", "PKR", "LKR", "NPR", "MUR", "SCR"), "नेरू": ("NPR",),
    "₩": ("KRW", "KPW"), "₫": ("VND",), "đ": ("VND",), "฿": ("THB",), "₱": ("PHP",),
    "Rp": ("IDR",), "RM": ("MYR",), "৳": ("BDT",), "Tk": ("BDT",), "টকা": ("BDT",),
    "₭": ("LAK",), "៛": ("KHR",), "₮": ("MNT",), "₸": ("KZT",), "тңг": ("KZT",),
    "тңг.": ("KZT",), "؋": ("AFN",), "ރ": ("MVR",), "₪": ("ILS",),
    # the Middle East and Africa
    "﷼": ("SAR", "IRR", "QAR", "OMR", "YER"), "ريال": ("SAR", "QAR", "OMR", "YER", "IRR"),
    "ریال": ("IRR",), "ر.س.\u200f": ("SAR",), "ر.ق.\u200f": ("QAR",),
    "د.ك.\u200f": ("KWD",), "د.ع.\u200f": ("IQD",), "ر.ع.\u200f": ("OMR",),
    "ر.ي.\u200f": ("YER",), "د.ج.\u200f": ("DZD",), "د.م.\u200f": ("MAD",),
    "د.إ.\u200f": ("AED",), "د.ت.\u200f": ("TND",), "د.ل.\u200f": ("LYD",),
    "ل.س.\u200f": ("SYP",), "د.ب.\u200f": ("BHD",), "د.أ.\u200f": ("JOD",),
    "ج.م.\u200f": ("EGP",), "ل.ل.\u200f": ("LBP",), "درهم": ("AED", "MAD"),
    "جنيه": ("EGP", "SDG"), "₦": ("NGN",), "GH₵": ("GHS",), "₵": ("GHS",), "Kz": ("AOA",),
    "FCFA": ("XAF", "XOF"), "CFA": ("XOF", "XAF"),
    # the Americas
    "₲": ("PYG",), "₡": ("CRC",), "S/": ("PEN",), "S/.": ("PEN",), "Bs": ("VES", "BOB"),
    "Bs.": ("VES", "BOB"), "ƒ": ("ANG", "AWG"),
}

# price-parser splits "US $5" into "$"; a two- or three-letter prefix before $ or ¥ names
# the country, so these are looked for first
_PREFIXED_MARK = re.compile(r"(?<![A-Za-z])([A-Z]{2,3})\s*([$¥￥])")
_OWN_MARKS = ("元", "ден", "₵", "S/")  # marks price-parser does not know
_ISO_CODE = re.compile(r"[A-Z]{3}")
# two numbers with a range dash (or "~", "to") between them: "2.10 - 3.80", "10 ~ 12"
_RANGE = re.compile(r"(?<=\d)\s*(?:[-\u2010-\u2015~\uff5e\u301c]|to)\s*(?=\D{0,5}\d)")
_MINUS = re.compile(r"[-\u2212\u2012\u2013\ufe63\uff0d]")
_AMOUNT_AFTER = re.compile(r"(?:[^\s\d]{1,4}\s?){0,2}\d")
_NON_FINITE = re.compile(r"(?<![A-Za-z])(?:nan|[+-]?inf(?:inity)?)(?![A-Za-z])",
                         re.IGNORECASE)
_EXPONENT = re.compile(r"\d(?:[.,]\d+)?[eE][+-]?\d+")


@dataclass(frozen=True)
class PriceReading:
    """What a price text says: the low and high end, the ISO currency and, when a price
    was shown but cannot be stored, why (``problem``; low and high are then None)."""

    low: Decimal | None
    high: Decimal | None
    currency: str
    problem: str | None = None


def clean_text(value: str | None) -> str | None:
    """Collapse whitespace runs to one space and trim. Zero-width characters are kept:
    they are evidence (a counterfeiter's trick), not formatting."""
    if value is None:
        return None
    text = " ".join(value.split())
    return text or None


def currency_of(text: str, default_currency: str) -> str | None:
    """The ISO 4217 code ``text`` names, ``default_currency`` if it names none, None if it
    names one this module does not know."""
    return _currency(text, Price.fromstring(text).currency, default_currency)


def _currency(text: str, mark: str | None, default_currency: str) -> str | None:
    """``currency_of``, given the mark price-parser found in ``text``."""
    for m in _PREFIXED_MARK.finditer(text):
        prefixed = m.group(1) + m.group(2)
        if prefixed in CURRENCY_MARKS:
            return _choose(CURRENCY_MARKS[prefixed], default_currency)
    if not mark:
        mark = next((own for own in _OWN_MARKS if own in text), None)
    if not mark:
        return default_currency
    if mark in CURRENCY_MARKS:
        return _choose(CURRENCY_MARKS[mark], default_currency)
    if _ISO_CODE.fullmatch(mark):
        return mark  # price-parser found it in its list of ISO codes
    return None


def _choose(codes: tuple[str, ...], default_currency: str) -> str:
    return default_currency if default_currency in codes else codes[0]


@functools.lru_cache(maxsize=4096)  # a sweep sees the same few hundred price texts often
def read_price(text: str | None, default_currency: str) -> PriceReading:
    """``"US $2.10 - 3.80"`` -> ``2.10``, ``3.80``, ``USD``; ``"129,00 €"`` -> ``129.00``,
    no high end, ``EUR``. The profile's ``default_currency`` is used only when the text
    names none. A negative, non-finite (``NaN``, ``inf``, ``1e309``) or absurd (over
    ``MAX_PRICE``) value, or one in an unknown currency, gives no price and a ``problem``."""
    if not text or (not any(c.isdigit() for c in text) and not _NON_FINITE.search(text)):
        return PriceReading(None, None, default_currency)  # "free shipping", "ask seller"
    parsed = Price.fromstring(text)
    currency = _currency(text, parsed.currency, default_currency)
    if _NON_FINITE.search(text):
        return _refused(currency, default_currency, f"{_shown(text)} is not a number")
    if _negative(text):
        return _refused(currency, default_currency, f"{_shown(text)} is negative")
    exponent = _EXPONENT.search(text)
    if exponent:
        low = _scientific(exponent.group())
        high = None
    else:
        low, high = _amounts(text, parsed.amount)
    if low is None:
        return PriceReading(None, None, currency or default_currency)
    if high is not None and high < low:
        low, high = high, low
    if any(v is not None and not v.is_finite() for v in (low, high)):
        return _refused(currency, default_currency, f"{_shown(text)} is not a finite number")
    if any(v is not None and v > MAX_PRICE for v in (low, high)):
        return _refused(currency, default_currency, f"{_shown(text)} is over {MAX_PRICE:,}, "
                        "not a real offer")
    if currency is None:
        return _refused(None, default_currency, f"{_shown(text)} is in a currency brandsweep "
                        "does not know (add its mark to CURRENCY_MARKS in "
                        "crawler/extract/normalize.py)")
    return PriceReading(low, high if high != low else None, currency)


def _shown(text: str) -> str:
    """The page's text as a message quotes it: short, one line."""
    return repr(text[:40] + "..." if len(text) > 40 else text)


def _refused(currency: str | None, default_currency: str, why: str) -> PriceReading:
    return PriceReading(None, None, currency or default_currency, why)


def _negative(text: str) -> bool:
    """A minus before the amount ("-5", "-$5", "$-5", "EUR -5"), not a range dash
    ("2.10 - 3.80") nor a label's dash ("Now - $5")."""
    for m in _MINUS.finditer(text):
        before = text[:m.start()].rstrip()
        after = text[m.end():]
        if before and before[-1].isdigit():
            continue  # a range
        # the amount, maybe after a currency mark: "5", "$5", "US $5"
        attached = _AMOUNT_AFTER.match(after) is not None
        spaced = _AMOUNT_AFTER.match(after.removeprefix(" ")) is not None
        if attached or (not before and spaced):
            return True
    return False


def _scientific(number: str) -> Decimal | None:
    try:
        value = Decimal(number.replace(",", "."))
    except InvalidOperation:
        return None
    # "1e309" is finite as a Decimal but not as the float any consumer would read it as
    if abs(float(value)) == float("inf"):
        return Decimal("Infinity")
    return Decimal(format(value, "f"))  # 1E+5 -> 100000, as the store keeps decimals


def _amounts(text: str, first: Decimal | None) -> tuple[Decimal | None, Decimal | None]:
    """The first amount (price-parser's reading of the whole ``text``), and the second if
    a range dash joins them."""
    m = _RANGE.search(text)
    if m is None:
        return first, None
    low = Price.fromstring(text[:m.start()]).amount
    high = Price.fromstring(text[m.end():]).amount
    if low is None:
        return high, None
    return low, high


def parse_price(text: str | None, default_currency: str) -> tuple[Decimal | None,
                                                                  Decimal | None, str]:
    """``"US $2.10 - 3.80"`` -> ``(2.10, 3.80, "USD")``; ``"129,00 €"`` -> ``(129.00, None,
    "EUR")``. A single price has no high end; the currency falls back to the profile's.
    A price that cannot be stored comes back as None: ``read_price`` says why."""
    reading = read_price(text, default_currency)
    return reading.low, reading.high, reading.currency


def parse_int(text: str | None) -> int | None:
    """``"1,234 sold"`` -> ``1234``."""
    if not text:
        return None
    m = re.search(r"\d[\d,.\s]*", text)
    if not m:
        return None
    digits = re.sub(r"\D", "", m.group())
    return int(digits) if digits else None
