"""The rule set file format, as pydantic models: what an analyst may write, and nothing else.

A rule set (``rules/<brand>.yaml``) has four sections: ``brand`` (keywords, products and
MSRPs, exchange rates, authorised sellers, the rights owner for notices), ``lists`` (named
term lists with a match mode), ``rules`` (selections, a condition, a score, exceptions and
inline tests) and ``stages`` (score thresholds). Unknown fields are errors.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from crawler.notify.config import NotifySetting
from crawler.vocab import RULE_FIELDS

AUTHORISED = "authorised_sellers"  # the built-in list: the brand's authorised sellers


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Product(_Strict):
    """A genuine product: how listings name it, and its MSRP per currency."""

    sku: str
    name: str
    match: list[str] = Field(min_length=1)  # phrases that name it in a title
    msrp: dict[str, Decimal] = Field(min_length=1)


class Seller(_Strict):
    marketplace: str | None = None  # None: authorised on every marketplace
    seller: str


class SellerFile(_Strict):
    file: str  # CSV with columns marketplace, seller; relative to the rule set


class RightsOwner(_Strict):
    """Who the notices speak for; the notices need these (see PRODUCT.md, Notices)."""

    name: str | None = None
    company: str | None = None
    title: str | None = None  # the signer's job title
    address: str | None = None
    email: str | None = None
    phone: str | None = None
    secondary_email: str | None = None
    signature: str | None = None
    agent: str | None = None


class Trademark(_Strict):
    mark: str
    number: str
    office: str  # e.g. USPTO, EUIPO
    jurisdiction: str | None = None
    classes: list[int] = []
    ip_record: str | None = None  # Alibaba IPP's approved IP record id


class BrandSection(_Strict):
    name: str
    keywords: list[str] = Field(min_length=1)
    currency: str = "USD"  # MSRPs are compared in this currency
    exchange_rates: dict[str, Decimal] = {}  # 1 unit of the key = this many of `currency`
    products: list[Product] = []
    authorised_sellers: list[Seller | str] | SellerFile = []
    rights_owner: RightsOwner | None = None
    trademarks: list[Trademark] = []
    # a folder of the brand's own product photos, relative to the rule set: the
    # reference that `image: {similar_to: reference}` compares listing photos with
    reference_images: str | None = None

    @field_validator("keywords")
    @classmethod
    def _searchable(cls, value: list[str]) -> list[str]:
        for keyword in value:
            if not searchable(keyword):
                raise ValueError(f"keyword {keyword!r} has no letter or digit: a search "
                                 "for it finds nothing; write the words to search for")
        return value


def searchable(keyword: str) -> bool:
    """A keyword a marketplace search can use: it holds a letter or a digit (not only
    spaces, punctuation or zero-width characters)."""
    return any(c.isalnum() for c in keyword)


class TermSpec(_Strict):
    term: str
    deny: list[str] = []  # fuzzy: near words that are not this term
    budget: int | None = Field(default=None, ge=0, le=3)  # fuzzy: edits allowed


class TermList(_Strict):
    """A named, reusable list of terms and the way they are matched."""

    match: Literal["words", "plain", "fuzzy", "regex", "raw", "values"] = "words"
    terms: list[str | TermSpec] = []
    file: str | None = None  # one term a line, '#' comments; relative to the rule set
    deny: list[str] = []  # fuzzy: applies to every term of the list
    description: str | None = None

    @model_validator(mode="after")
    def _some_terms(self) -> TermList:
        if not self.terms and not self.file:
            raise ValueError("a list needs 'terms' or a 'file'")
        return self


class ImageTest(_Strict):
    """A test on a listing's photo, read from the facts worked out after the crawl
    (``crawler.images.facts``): close to one of the brand's reference photos, or the same
    photo shown by at least ``reused_by_sellers`` other sellers."""

    similar_to: Literal["reference"] | None = None
    max_distance: int = Field(default=24, ge=0, le=128)  # pHash + dHash bits that differ
    reused_by_sellers: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_test(self) -> ImageTest:
        if (self.similar_to is None) == (self.reused_by_sellers is None):
            raise ValueError("give exactly one of similar_to: reference or "
                             "reused_by_sellers: N")
        return self


class SellerTest(_Strict):
    """A test on the seller's record (``crawler.cases.networks``): confirmed counterfeit cases
    of its seller network, or listings of this seller taken down (a repeat infringer)."""

    network_cases: int | None = Field(default=None, ge=1)
    takedowns: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_test(self) -> SellerTest:
        if (self.network_cases is None) == (self.takedowns is None):
            raise ValueError("give exactly one of network_cases: N or takedowns: N")
        return self


class Selection(_Strict):
    """One test on a listing. Exactly one matcher: ``list``, ``terms``, ``regex``, ``in``,
    ``not_in``, a number comparison (``gt``/``ge``/``lt``/``le``/``eq``), ``exists``,
    ``price_below_msrp`` or ``names_product``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    field: str | None = None
    list_: str | None = Field(default=None, alias="list")
    terms: list[str] | None = None
    # for inline terms; on a regex, ``raw`` matches the unfolded text
    match: Literal["words", "plain", "fuzzy", "regex", "raw", "values"] | None = None
    regex: str | None = None
    in_: str | None = Field(default=None, alias="in")
    not_in: str | None = None
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    eq: float | None = None
    exists: bool | None = None
    price_below_msrp: str | float | None = None  # "40%" or 0.4
    names_product: bool | None = None  # the title names one of the brand's products
    image: ImageTest | None = None  # the listing's photo (facts computed after a crawl)
    seller: SellerTest | None = None  # the seller's record and network
    if_missing: bool = False  # the result when the field is absent

    @model_validator(mode="after")
    def _one_matcher(self) -> Selection:
        kinds = [k for k in ("list_", "terms", "regex", "in_", "not_in", "exists",
                             "price_below_msrp", "names_product", "image", "seller")
                 if getattr(self, k) is not None]
        if any(getattr(self, k) is not None for k in ("gt", "ge", "lt", "le", "eq")):
            kinds.append("number")
        if len(kinds) != 1:
            raise ValueError("give exactly one matcher: list, terms, regex, in, not_in, "
                             "gt/ge/lt/le/eq, exists, price_below_msrp, names_product, "
                             "image or seller"
                             + (f" (found {', '.join(k.rstrip('_') for k in kinds)})"
                                if kinds else ""))
        if self.match is not None and self.terms is None and not (
                self.regex is not None and self.match in ("regex", "raw")):
            raise ValueError("'match' goes with inline 'terms' (or 'match: raw' with a "
                             "'regex'); a list has its own mode")
        if self.field is not None and self.field not in RULE_FIELDS:
            from crawler.yamlfile import hint

            raise ValueError(f"unknown listing field {self.field!r}"
                             f"{hint(self.field, RULE_FIELDS)}")
        return self

    @field_validator("price_below_msrp")
    @classmethod
    def _share(cls, value: str | float | None) -> str | float | None:
        if value is not None:
            share = _share_of(value)
            if not 0 < share <= 1:
                raise ValueError("give a share of MSRP between 0 and 1, or 1% to 100%")
        return value

    @property
    def share(self) -> float:
        assert self.price_below_msrp is not None
        return _share_of(self.price_below_msrp)


def _share_of(value: str | float) -> float:
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError as exc:
            raise ValueError(f"not a share: {value!r} (write 40% or 0.4)") from exc
    return float(value)


class Score(_Strict):
    base: int = 0
    add: dict[str, int] = {}  # selection name -> points added when it matched


class AllowEntry(_Strict):
    """An allow-list entry: when ``where`` matches, the rule does not count, for a reason."""

    name: str
    reason: str = Field(min_length=3)
    where: Selection | list[Selection]
    expires: dt.date | None = None
    added_by: str | None = None


class TestListing(_Strict):
    """A listing written into a test; fields missing are absent, as on a real page."""

    marketplace: str = "bazaar"
    listing_id: str = "test"
    title: str
    description: str | None = None
    price: Decimal | None = None
    price_high: Decimal | None = None
    currency: str | None = None
    seller: str | None = None
    seller_location: str | None = None
    ships_from: str | None = None
    condition: str | None = None
    url: str | None = None
    units_sold: int | None = None
    moq: int | None = None
    # what the image and seller selections read, as crawler.images.facts writes it, e.g.
    # {reference: {file: a.png, distance: 6}, image_sellers: 3, network_cases: 4}
    facts: dict[str, Any] | None = None


class RuleTest(_Strict):
    name: str | None = None
    listing: TestListing
    expect: Literal["match", "no_match", "suppressed"]
    todo: bool = False  # a known gap: reported, never a failure


class Rule(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    title: str
    status: Literal["experimental", "test", "stable", "deprecated"] = "experimental"
    description: str | None = None
    selections: dict[str, Selection] = Field(min_length=1)
    condition: str
    score: int | Score
    exceptions: list[AllowEntry] = []
    tests: list[RuleTest] = []
    notice_reason: str | None = None  # e.g. eBay VeRO reason code "1.1"

    @property
    def scoring(self) -> Score:
        return self.score if isinstance(self.score, Score) else Score(base=self.score)


class Stage(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    min_score: int
    draft: Literal["auto", "confirm"] = "confirm"  # auto: notices drafted without review


class SetTest(_Strict):
    """A whole-rule-set test: the stage a listing must end at (``none``: not staged)."""

    name: str | None = None
    listing: TestListing
    stage: str
    todo: bool = False


class NoticeSettings(_Strict):
    """How this brand's notices are written."""

    # a folder (relative to the rule set) of Jinja2 templates that replace ours by name,
    # e.g. ebay_vero.txt.j2; they run sandboxed
    templates: str | None = None


class StorefrontSettings(_Strict):
    """When a whole storefront gets a notice (programs that take one)."""

    # a seller, or a seller network on one marketplace, with this many counterfeit cases;
    # none when unset
    min_cases: int | None = Field(default=None, ge=1)


class RuleSetFile(_Strict):
    brand: BrandSection
    notices: NoticeSettings = NoticeSettings()
    storefronts: StorefrontSettings = StorefrontSettings()
    # where this brand's sweep digests go, and what triggers one (crawler.notify.config)
    notify: NotifySetting | None = None
    lists: dict[str, TermList] = {}
    rules: list[Rule] = []
    stages: list[Stage] = []
    tests: list[SetTest] = []

    @field_validator("stages")
    @classmethod
    def _ordered(cls, value: list[Stage]) -> list[Stage]:
        return sorted(value, key=lambda s: s.min_score)

