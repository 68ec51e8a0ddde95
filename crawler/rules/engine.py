"""Evaluating listings against a compiled rule set: score, stage, and why.

``RuleSet.evaluate`` scans each field a rule looks at once (see ``matchers``), works out
which rules can possibly match from the hits (``condition.triggers``), and evaluates only
those, each condition compiled to one closure whose list tests are a bit test on the
field's hit mask. Each matched rule adds its score unless an exception suppresses it; the total
picks the highest stage whose ``min_score`` it reaches. The result records the rule
set's version and, for every matched selection, the text it matched and where.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from crawler.rules import text
from crawler.rules.condition import Condition
from crawler.rules.matchers import FieldHits, Matchers
from crawler.rules.model import (
    AUTHORISED,
    BrandSection,
    ImageTest,
    Rule,
    Selection,
    SellerTest,
    Stage,
)

PRODUCT_KEY = "product:"


@dataclass
class Span:
    field: str
    start: int  # in the original field text
    end: int
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "start": self.start, "end": self.end, "text": self.text}


@dataclass
class SelectionResult:
    matched: bool
    spans: list[Span] = field(default_factory=list)
    note: str = ""  # what a non-text matcher compared, e.g. "price 17.00 USD < 40% of 199"


class RuleResult:
    """One rule's verdict on one listing. What each selection matched and where is worked
    out when first asked for (explain, storing a verdict), never for rules a listing only
    needs a score from."""

    __slots__ = (
        "_selections",
        "_source",
        "matched",
        "reason",
        "rule",
        "score",
        "suppressed_by",
    )

    def __init__(self, rule: str, matched: bool, score: int = 0,
                 source: tuple[_Context, CompiledRule] | None = None) -> None:
        self.rule = rule
        self.matched = matched
        self.score = score
        self.suppressed_by: str | None = None  # exception name
        self.reason: str | None = None
        self._source = source
        self._selections: dict[str, SelectionResult] | None = None

    def __repr__(self) -> str:
        return (f"RuleResult({self.rule!r}, matched={self.matched}, score={self.score}, "
                f"suppressed_by={self.suppressed_by!r})")

    @property
    def selections(self) -> dict[str, SelectionResult]:
        if self._selections is None:
            self._selections = {}
            if self._source is not None:
                ctx, rule = self._source
                self._selections = {n: ctx.selection(s) for n, s in rule.selections.items()}
                self._source = None  # the listing is no longer needed
        return self._selections

    @property
    def outcome(self) -> str:
        if not self.matched:
            return "no_match"
        return "suppressed" if self.suppressed_by else "match"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule, "score": self.score}
        if self.suppressed_by:
            out |= {"suppressed_by": self.suppressed_by, "reason": self.reason}
        out["selections"] = {
            name: ([s.as_dict() for s in r.spans] or r.note)
            for name, r in self.selections.items() if r.matched}
        return out


@dataclass
class Evaluation:
    version: str
    score: int
    stage: str | None
    results: list[RuleResult]  # matched (including suppressed) rules; every rule if full

    @property
    def matched(self) -> list[RuleResult]:
        return [r for r in self.results if r.matched]

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "score": self.score, "stage": self.stage,
                "matches": [r.as_dict() for r in self.matched]}


@dataclass
class CompiledSelection:
    name: str
    spec: Selection
    field: str
    key: str | None  # list key for text matchers
    mode: str | None
    hit_based: bool  # matches only when a term/fuzzy/regex hit exists

    def __post_init__(self) -> None:
        # a term, fuzzy or regex list looked up in the field's scan: the fast path
        self.hit_test = (self.key is not None and self.mode not in (None, "values")
                         and self.spec.in_ is None and self.spec.not_in is None
                         and self.spec.exists is None)
        self.bit = 0  # the list key's bit in the field's hit mask (set by RuleSet)
        self.slot = f"{self.field}\t{self.mode}"  # one field scanned one way: _Masks key
        # equal selections in different rules share one worked-out answer per listing
        self.memo_key = f"{self.field}|{self.key}|{self.spec.model_dump_json()}"

    def leaf(self) -> Callable[[_Context], Any]:
        """This selection's test as a closure over a listing's context (truthy: matched)."""
        if self.hit_test and not self.spec.if_missing:
            slot, bit = self.slot, self.bit
            return lambda ctx: ctx[slot] & bit  # a missing field's mask is 0
        return lambda ctx: ctx.test(self)


@dataclass
class CompiledRule:
    rule: Rule
    condition: Condition
    selections: dict[str, CompiledSelection]
    exceptions: list[tuple[Any, list[CompiledSelection]]]  # (Exception_, its selections)
    triggers: frozenset[str] | None

    def __post_init__(self) -> None:
        self.scoring = self.rule.scoring  # built once, not per listing

    def compile(self) -> None:
        """Closures for the fast path: the condition, and the points each selection adds."""
        leaves = {name: sel.leaf() for name, sel in self.selections.items()}
        # a bit test costs nothing beside a price or seller comparison
        self.test = self.condition.compile(leaves.__getitem__, lambda name: 0 if (
            self.selections[name].hit_test) else 1)
        self.base = self.scoring.base
        self.adds = [(leaves[name], points) for name, points in self.scoring.add.items()]


class RuleSet:
    """A brand's compiled rule set. Build it with ``crawler.rules.loader.load``."""

    def __init__(self, *, brand_key: str, brand: BrandSection, version: str, path: str,
                 rules: list[CompiledRule], stages: list[Stage], matchers: Matchers,
                 authorised: set[tuple[str | None, str]], today: dt.date | None = None,
                 templates: str | None = None,
                 references: list[tuple[str, str, Any]] | None = None) -> None:
        self.brand_key = brand_key
        # the brand's reference photos: (file name, crawler.images.hashing.PhotoHashes),
        # and the SHA-256 of each file
        self.references = [(name, hashes) for name, _sha, hashes in references or ()]
        self.reference_digests = frozenset(sha for _n, sha, _h in references or ())
        self.templates = templates  # the rule set's own notice templates folder, if any
        self.storefront_cases: int | None = None  # storefronts.min_cases (loader)
        self.brand = brand
        self.version = version
        self.path = path
        self.rules = rules
        self.stages = stages
        self.matchers = matchers
        self.authorised = authorised
        self.today = today or dt.date.today()
        self.active = [r for r in rules if r.rule.status != "deprecated"]
        self.slots: dict[str, tuple[str, str]] = {}  # slot -> (field, match mode)
        for r in rules:
            for sel in [*r.selections.values(), *(s for _e, ss in r.exceptions for s in ss)]:
                sel.bit = matchers.bits.get(sel.key or "", 0)
                self.slots[sel.slot] = (sel.field, str(sel.mode))
            r.compile()
        # rules that can only match on a hit, found through the hit's bit: per scanned
        # field and mode, bit -> the indices in ``active`` of the rules it may trigger
        self._always = tuple(i for i, r in enumerate(self.active) if r.triggers is None)
        triggers: dict[str, dict[int, tuple[int, ...]]] = {}
        for i, r in enumerate(self.active):
            for name in r.triggers or ():
                sel = r.selections[name]
                by_bit = triggers.setdefault(sel.slot, {})
                if i not in by_bit.get(sel.bit, ()):
                    by_bit[sel.bit] = (*by_bit.get(sel.bit, ()), i)
        # only the bits that trigger something are walked per listing
        self._triggers = [(s, sum(by_bit), by_bit) for s, by_bit in sorted(triggers.items())]
        self._products = [(matchers.bits.get(PRODUCT_KEY + p.sku, 0), PRODUCT_KEY + p.sku, p)
                          for p in brand.products]

    # -- evaluating -----------------------------------------------------------------------

    def evaluate(self, listing: dict[str, Any], full: bool = False) -> Evaluation:
        """Score and stage one listing (a mapping of listing fields)."""
        ctx = _Context(self, listing)
        if full:
            results = [self._rule(ctx, r, full=True) for r in self.active]
            total = sum(r.score for r in results if r.matched and not r.suppressed_by)
            return Evaluation(self.version, total, self.stage_for(total), results)
        # most listings trigger nothing or one list: its rules are already in order
        candidates = self._always
        merge = False
        for slot, wanted, by_bit in self._triggers:
            hit = ctx[slot] & wanted
            while hit:
                low = hit & -hit
                if candidates:
                    candidates += by_bit[low]
                    merge = True
                else:
                    candidates = by_bit[low]
                hit ^= low
        if merge:
            candidates = tuple(sorted(set(candidates)))
        results = []
        total = 0
        active = self.active
        for i in candidates:
            rule = active[i]
            if not rule.test(ctx):
                continue
            score = rule.base
            for leaf, points in rule.adds:
                if leaf(ctx):
                    score += points
            result = RuleResult(rule.rule.id, True, score, (ctx, rule))
            if rule.exceptions:
                self._suppress(ctx, rule, result)
            if not result.suppressed_by:
                total += score
            results.append(result)
        return Evaluation(self.version, total, self.stage_for(total), results)

    def evaluate_rule(self, rule_id: str, listing: dict[str, Any]) -> RuleResult:
        """One rule on one listing, every selection evaluated (for tests and explain)."""
        rule = next(r for r in self.rules if r.rule.id == rule_id)
        return self._rule(_Context(self, listing), rule, full=True)

    def stage_for(self, score: int) -> str | None:
        stage = None
        for s in self.stages:  # sorted by min_score
            if score >= s.min_score:
                stage = s.name
        return stage

    def _rule(self, ctx: _Context, rule: CompiledRule, full: bool) -> RuleResult:
        """One rule with every selection worked out (tests and explain)."""
        result = RuleResult(rule.rule.id, bool(rule.test(ctx)), 0, (ctx, rule))
        if full:
            result.selections  # noqa: B018  (explain wants every selection worked out)
        if not result.matched:
            return result
        result.score = rule.base + sum(points for leaf, points in rule.adds if leaf(ctx))
        self._suppress(ctx, rule, result)
        return result

    def _suppress(self, ctx: _Context, rule: CompiledRule, result: RuleResult) -> None:
        for exc, exc_selections in rule.exceptions:
            if exc.expires is not None and exc.expires < self.today:
                continue  # expired: no longer suppresses (rules check warns about it)
            if all(ctx.test(s) for s in exc_selections):
                result.suppressed_by, result.reason = exc.name, exc.reason
                return

    # -- products and prices --------------------------------------------------------------

    def product_for(self, ctx: _Context) -> Any:
        """The brand product a listing names (the longest product phrase in its title)."""
        if ctx.product is not _UNSET:
            return ctx.product
        ctx.product = self._product_for(ctx)
        return ctx.product

    def _product_for(self, ctx: _Context) -> Any:
        hits = ctx.hits("title")
        best = None
        best_len = 0
        for bit, key, product in self._products:
            if not hits.mode_mask("words") & bit:
                continue
            for h in hits.spans(key):
                if h.end - h.start > best_len:
                    best, best_len = product, h.end - h.start
        return best

    def to_brand_currency(self, amount: Decimal, currency: str) -> Decimal | None:
        if currency == self.brand.currency:
            return amount
        rate = self.brand.exchange_rates.get(currency)
        return amount * rate if rate is not None else None


def _number(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


_MISSING = FieldHits()  # the scan of a field the listing does not have
_UNSET = object()


class _Context(dict[str, int]):
    """One listing being evaluated: its field scans, computed once and shared by rules.
    As a mapping it holds the listing's hit mask per field and match mode
    (``CompiledSelection.slot``), each scanned when first asked for."""

    __slots__ = ("_facts", "_hits", "_memo", "listing", "product", "ruleset")

    def __init__(self, ruleset: RuleSet, listing: dict[str, Any]) -> None:
        super().__init__()
        self.ruleset = ruleset
        self.listing = listing
        self._hits: dict[str, FieldHits] = {}
        self.product: Any = _UNSET
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
        number = _number(value)
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
            f"the same photo is shown by {others} other seller{'s' * (others != 1)}"))

    def _seller(self, test: SellerTest) -> SelectionResult:
        facts = self.facts
        if test.network_cases is not None:
            cases = int(facts.get("network_cases", 0))
            return SelectionResult(cases >= test.network_cases, note=(
                f"seller network {facts.get('network') or '(none)'} has {cases} confirmed "
                f"counterfeit case{'s' * (cases != 1)}"))
        assert test.takedowns is not None
        gone = int(facts.get("seller_takedowns", 0))
        return SelectionResult(gone >= test.takedowns, note=(
            f"{gone} listing{'s' * (gone != 1)} of this seller taken down"))

    def _price(self, spec: Selection) -> SelectionResult:
        rs = self.ruleset
        product = rs.product_for(self)
        price = _number(self.listing.get("price"))
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
