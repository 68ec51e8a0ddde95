"""A listing's price against the MSRP of the brand product its title names, worked out
by the brand's rule set the way its ``price_below_msrp`` rules do."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from crawler.exceptions import BrandsweepError


@dataclass
class PriceCheck:
    product: str | None = None
    msrp: Decimal | None = None
    currency: str | None = None
    price: Decimal | None = None  # the listing's price in ``currency``
    note: str = ""

    @property
    def share(self) -> float | None:
        """Price as a share of MSRP (0.1 = a tenth of it)."""
        if self.msrp and self.price is not None:
            return float(self.price / self.msrp)
        return None


class RuleSets:
    """Brand rule sets loaded once and reloaded when their file changes."""

    def __init__(self, rules_path: Path | None) -> None:
        self.rules_path = rules_path
        self._loaded: dict[str, tuple[float, Any]] = {}

    def get(self, brand: str) -> Any:
        from crawler.rules import files as ruleset
        from crawler.rules import loader

        path = ruleset.brand_file(brand, self.rules_path)
        stamp = path.stat().st_mtime
        cached = self._loaded.get(brand)
        if cached is None or cached[0] != stamp:
            cached = self._loaded[brand] = (stamp, loader.load(path))
        return cached[1]


def check(rule_sets: RuleSets, brand: str, listing: dict[str, Any]) -> PriceCheck:
    """The product ``listing`` names, its MSRP, and the listing's price to compare."""
    from crawler.rules.context import ListingContext  # the engine's own product lookup

    try:
        rs = rule_sets.get(brand)
    except (BrandsweepError, OSError) as exc:
        return PriceCheck(note=f"rule set not available: {exc}")
    product = rs.product_for(ListingContext(rs, listing))
    if product is None:
        return PriceCheck(note="the title names none of the brand's products")
    try:
        price = Decimal(str(listing.get("price")))
    except InvalidOperation:
        price = None
    currency = listing.get("currency") or rs.brand.currency
    if currency in product.msrp:
        return PriceCheck(product.name, product.msrp[currency], currency, price)
    base = rs.brand.currency
    converted = rs.to_brand_currency(price, currency) if price is not None else None
    note = "" if converted is not None or price is None else \
        f"no exchange rate for {currency} in the rule set"
    return PriceCheck(product.name, product.msrp.get(base), base, converted, note)
