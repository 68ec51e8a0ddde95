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
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from crawler.rules.condition import Condition
from crawler.rules.context import UNSET, ListingContext
from crawler.rules.matchers import Matchers
from crawler.rules.model import (
    BrandSection,
    Rule,
    Selection,
    Stage,
)
from crawler.rules.results import Evaluation, RuleResult

PRODUCT_KEY = "product:"


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

    def leaf(self) -> Callable[[ListingContext], Any]:
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
        self.notify: Any = None  # the rule set's notify: setting (loader)
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
        ctx = ListingContext(self, listing)
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
        return self._rule(ListingContext(self, listing), rule, full=True)

    def stage_for(self, score: int) -> str | None:
        stage = None
        for s in self.stages:  # sorted by min_score
            if score >= s.min_score:
                stage = s.name
        return stage

    def _rule(self, ctx: ListingContext, rule: CompiledRule, full: bool) -> RuleResult:
        """One rule with every selection worked out (tests and explain)."""
        result = RuleResult(rule.rule.id, bool(rule.test(ctx)), 0, (ctx, rule))
        if full:
            result.selections  # noqa: B018  (explain wants every selection worked out)
        if not result.matched:
            return result
        result.score = rule.base + sum(points for leaf, points in rule.adds if leaf(ctx))
        self._suppress(ctx, rule, result)
        return result

    def _suppress(self, ctx: ListingContext, rule: CompiledRule, result: RuleResult) -> None:
        for exc, exc_selections in rule.exceptions:
            if exc.expires is not None and exc.expires < self.today:
                continue  # expired: no longer suppresses (rules check warns about it)
            if all(ctx.test(s) for s in exc_selections):
                result.suppressed_by, result.reason = exc.name, exc.reason
                return

    # -- products and prices --------------------------------------------------------------

    def product_for(self, ctx: ListingContext) -> Any:
        """The brand product a listing names (the longest product phrase in its title)."""
        if ctx.product is not UNSET:
            return ctx.product
        ctx.product = self._product_for(ctx)
        return ctx.product

    def _product_for(self, ctx: ListingContext) -> Any:
        hits = ctx.hits("title")
        best = None
        best_len = 0
        for bit, key, product in self._products:
            if not hits.mode_mask("words") & bit:
                continue
            for h in hits.spans(key, "words"):  # products are words lists
                if h.end - h.start > best_len:
                    best, best_len = product, h.end - h.start
        return best

    def to_brand_currency(self, amount: Decimal, currency: str) -> Decimal | None:
        if currency == self.brand.currency:
            return amount
        rate = self.brand.exchange_rates.get(currency)
        return amount * rate if rate is not None else None

