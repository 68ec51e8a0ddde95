"""One listing being evaluated: its fields scanned once and shared by every rule, and each
kind of selection tested against it (terms, values, comparisons, price against MSRP,
photos, the seller's record)."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from crawler.rules import text
from crawler.rules.hits import FieldHits
from crawler.rules.model import (
    AUTHORISED,
    ImageTest,
    Selection,
    SellerTest,
)
from crawler.rules.results import SelectionResult, Span

if TYPE_CHECKING:
    from crawler.rules.engine import CompiledSelection, RuleSet


def as_number(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


_MISSING = FieldHits()  # the scan of a field the listing does not have


UNSET = object()  # a product not looked up yet


class ListingContext(dict[str, int]):
    """One listing being evaluated: its field scans, computed once and shared by rules.
    As a mapping it holds the listing's hit mask per field and match mode
    (``CompiledSelection.slot``), each scanned when first asked for."""

    __slots__ = ("_facts", "_hits", "_memo", "listing", "product", "ruleset")

    def __init__(self, ruleset: RuleSet, listing: dict[str, Any]) -> None:
        super().__init__()
        self.ruleset = ruleset
        self.listing = listing
        self._hits: dict[str, FieldHits] = {}
        self.product: Any = UNSET
        self._memo: dict[str, bool] = {}  # selection memo_key -> matched
        self._facts: dict[str, Any] | None = None

    def __missing__(self, slot: str) -> int:
        name, mode = self.ruleset.slots[slot]
        mask = self[slot] = self.hits(name).mode_mask(mode)
        return mask

    def hits(self, name: str) -> FieldHits:
        found = self._hits.get(name)
        if found is None:
            value = self.listing.get(name)
            found = (self.ruleset.matchers.scan(name, str(value)) if value not in (None, "")
                     else _MISSING)
            self._hits[name] = found
        return found

    def test(self, sel: CompiledSelection) -> bool:
        """Whether ``sel`` matches, without working out what it matched."""
        if sel.hit_test:
            found = self.hits(sel.field)
            if found is _MISSING:
                return sel.spec.if_missing
            assert sel.mode is not None
            return bool(found.mode_mask(sel.mode) & sel.bit)
        known = self._memo.get(sel.memo_key)
        if known is None:
            known = self._memo[sel.memo_key] = self.selection(sel).matched
        return known

    def selection(self, sel: CompiledSelection) -> SelectionResult:
        spec = sel.spec
        if spec.price_below_msrp is not None:
            return self._price(spec)
        if spec.image is not None:
            return self._image(spec.image)
        if spec.seller is not None:
            return self._seller(spec.seller)
        if spec.names_product is not None:
            product = self.ruleset.product_for(self)
            return SelectionResult((product is not None) == spec.names_product,
                                   note=f"names {product.name}" if product else
                                   "names none of the brand's products")
        value = self.listing.get(sel.field)
        if spec.exists is not None:
            present = value not in (None, "", [])
            return SelectionResult(present == spec.exists)
        if value in (None, ""):
            return SelectionResult(spec.if_missing, note=f"{sel.field} is missing")
        if sel.mode == "values" or spec.in_ is not None or spec.not_in is not None:
            return self._membership(sel, str(value))
        if sel.key is not None:
            found = self.hits(sel.field).spans(sel.key)
            if not found:
                return SelectionResult(False)
            assert sel.mode is not None
            folded = self.hits(sel.field).folds[sel.mode]
            source = str(value)
            spans = []
            for h in found:
                start, end = folded.source_span(h.start, h.end)
                spans.append(Span(sel.field, start, end, source[start:end]))
            return SelectionResult(True, spans)
        return self._compare(sel, value)

    def _membership(self, sel: CompiledSelection, value: str) -> SelectionResult:
        spec = sel.spec
        list_name = spec.in_ or spec.not_in or spec.list_
        if list_name == AUTHORISED:
            folded = text.plain(value).text
            market = self.listing.get("marketplace")
            inside = ((market, folded) in self.ruleset.authorised
                      or (None, folded) in self.ruleset.authorised)
        else:
            assert sel.key is not None
            inside = text.plain(value).text in self.ruleset.matchers.values.get(sel.key, ())
        want = spec.not_in is None
        verb = "in" if inside else "not in"
        return SelectionResult(inside == want, note=f"{sel.field} {value!r} {verb} {list_name}")

    def _compare(self, sel: CompiledSelection, value: Any) -> SelectionResult:
        spec = sel.spec
        number = as_number(value)
        if number is None:
            return SelectionResult(spec.if_missing, note=f"{sel.field} is not a number")
        checks: list[tuple[float | None, Callable[[float, float], bool], str]] = [
            (spec.gt, lambda a, b: a > b, ">"), (spec.ge, lambda a, b: a >= b, ">="),
            (spec.lt, lambda a, b: a < b, "<"), (spec.le, lambda a, b: a <= b, "<="),
            (spec.eq, lambda a, b: a == b, "==")]
        ok = all(test(float(number), bound) for bound, test, _ in checks if bound is not None)
        note = " and ".join(f"{sel.field} {number} {sym} {bound:g}"
                            for bound, _t, sym in checks if bound is not None)
        return SelectionResult(ok, note=note)

    # -- facts worked out after the crawl: photos and sellers ----------------------------

    @property
    def facts(self) -> dict[str, Any]:
        """The listing's ``_facts`` (JSON from the store, or a mapping in tests)."""
        if self._facts is None:
            raw = self.listing.get("_facts")
            facts = json.loads(raw) if isinstance(raw, str) else raw
            self._facts = facts if isinstance(facts, dict) else {}
        return self._facts

    def _image(self, test: ImageTest) -> SelectionResult:
        facts = self.facts
        if test.similar_to is not None:
            ref = facts.get("reference")
            if not isinstance(ref, dict):
                return SelectionResult(False, note="no photo compared with the reference")
            distance = int(ref.get("distance", 129))
            ok = distance <= test.max_distance
            return SelectionResult(ok, note=(
                f"photo {str(ref.get('photo', ''))[:12]} is {distance} from reference "
                f"{ref.get('file')} ({'<=' if ok else '>'} {test.max_distance})"))
        assert test.reused_by_sellers is not None
        others = int(facts.get("image_sellers", 0))
        return SelectionResult(others >= test.reused_by_sellers, note=(
            f"the same photo is shown by {_counted(others, 'other seller')}"))

    def _seller(self, test: SellerTest) -> SelectionResult:
        facts = self.facts
        if test.network_cases is not None:
            cases = int(facts.get("network_cases", 0))
            network = facts.get("network") or "(none)"
            return SelectionResult(cases >= test.network_cases, note=(
                f"seller network {network} has {_counted(cases, 'confirmed counterfeit case')}"))
        assert test.takedowns is not None
        gone = int(facts.get("seller_takedowns", 0))
        return SelectionResult(gone >= test.takedowns,
                               note=f"{_counted(gone, 'listing')} of this seller taken down")

    def _price(self, spec: Selection) -> SelectionResult:
        rs = self.ruleset
        product = rs.product_for(self)
        price = as_number(self.listing.get("price"))
        currency = self.listing.get("currency") or rs.brand.currency
        if product is None or price is None:
            what = "no brand product named in the title" if product is None else "no price"
            return SelectionResult(spec.if_missing, note=what)
        if currency in product.msrp:
            msrp, price_cmp, cur = product.msrp[currency], price, currency
        else:
            base_msrp = product.msrp.get(rs.brand.currency)
            price_cmp_or_none = rs.to_brand_currency(price, currency)
            if base_msrp is None or price_cmp_or_none is None:
                return SelectionResult(spec.if_missing,
                                       note=f"no exchange rate for {currency}")
            msrp, price_cmp, cur = base_msrp, price_cmp_or_none, rs.brand.currency
        limit = msrp * Decimal(str(spec.share))
        ok = price_cmp < limit
        return SelectionResult(ok, note=(
            f"price {price_cmp:.2f} {cur} {'<' if ok else '>='} {spec.share:.0%} of "
            f"{product.name} MSRP {msrp:.2f} {cur}"))


def _counted(n: int, thing: str) -> str:
    """``1 listing``, ``2 listings``: how explanations count."""
    return f"{n} {thing}{'s' * (n != 1)}"
