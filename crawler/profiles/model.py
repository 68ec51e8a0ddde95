"""The marketplace profile model: what a YAML profile may say, validated by pydantic.

Every CSS and XPath selector in a profile is compiled on load
(``crawler.profiles.selectors``), so a selector that does not parse stops the profile
from loading instead of failing mid-sweep. ``crawler.profiles.loading`` reads the files.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import re2
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from crawler import urls, yamlfile
from crawler.profiles.selectors import RE2_QUIET, Css, XPath, css_problem
from crawler.vocab import LISTING_FIELDS, REQUIRED_FIELDS, NoticeProgram


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Strict):
    """Where one field's value is on a page: exactly one of css, xpath, jsonld or jsonpath."""

    css: Css | None = None
    xpath: XPath | None = None
    jsonld: str | None = None  # dotted path into the page's schema.org JSON-LD object
    jsonpath: str | None = None  # dotted path into a JSON API item
    regex: str | None = None  # RE2, applied to the extracted text; group 1 if it has one
    all: bool = False  # keep every match (a list), e.g. image URLs

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        given = [k for k in ("css", "xpath", "jsonld", "jsonpath") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of css, xpath, jsonld or jsonpath")
        return self

    @field_validator("regex")
    @classmethod
    def _re2(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re2.compile(value, options=RE2_QUIET)
            except re2.error as exc:
                raise ValueError(f"RE2 cannot compile this regex: {exc}") from exc
        return value


def _field(value: Any) -> Any:
    """A plain string is a CSS selector, or XPath when it starts with / or (."""
    if isinstance(value, str):
        return {"xpath": value} if value.startswith(("/", "(")) else {"css": value}
    return value


class Marker(_Strict):
    """Something a page shows (a "no results" message): exactly one of a CSS selector,
    an XPath expression or a text (found case-insensitively anywhere in the page). A
    plain string is CSS, or XPath when it starts with / or (, as for fields."""

    css: Css | None = None
    xpath: XPath | None = None
    text: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one(self) -> Marker:
        if sum(v is not None for v in (self.css, self.xpath, self.text)) != 1:
            raise ValueError("give exactly one of css, xpath or text")
        return self

    def __str__(self) -> str:
        kind, value = next((k, v) for k, v in (("css", self.css), ("xpath", self.xpath),
                                                ("text", self.text)) if v is not None)
        return f"{kind} {value!r}"


def _known_fields(value: dict[str, Any], required: tuple[str, ...]) -> dict[str, Any]:
    for name in value:
        if name not in LISTING_FIELDS:
            raise ValueError(f"unknown listing field {name!r}"
                             f"{yamlfile.hint(name, LISTING_FIELDS)}")
    missing = [f for f in required if f not in value]
    if missing:
        raise ValueError(f"listing fields must include {', '.join(missing)}")
    return value


class Pagination(_Strict):
    """How result pages follow each other."""

    kind: Literal["next_link", "page_param", "infinite_scroll", "load_more", "json_api"]
    next: FieldSpec | None = None  # next_link / load_more over HTTP / json_api: next URL
    button: Css | None = None  # load_more in a browser: the button to click
    end: Css | None = None  # infinite_scroll: shown when the list is complete
    total_pages: FieldSpec | None = None  # page_param: where the page count is shown
    first_page: int = 1
    max_pages: int = Field(default=50, ge=1, le=1000)

    _coerce = field_validator("next", "total_pages", mode="before")(
        classmethod(lambda cls, v: _field(v)))

    @model_validator(mode="after")
    def _complete(self) -> Pagination:
        if self.kind in ("next_link", "json_api") and self.next is None:
            raise ValueError(f"pagination kind {self.kind} needs 'next'")
        if self.kind == "load_more" and not (self.next or self.button):
            raise ValueError("pagination kind load_more needs 'button', 'next' or both")
        return self


class Search(_Strict):
    """The search URL and how to walk its result pages."""

    url: str  # {base_url}, {keyword} (URL-encoded), {page} for page_param
    render: Literal["http", "browser", "auto"] = "http"
    # browser: how long a page may take to show listings (or a "no results" or blocked
    # marker) while its own scripts fetch, retry and render
    wait_seconds: float = Field(default=15.0, gt=0, le=300)
    pagination: Pagination

    @field_validator("url")
    @classmethod
    def _has_keyword(cls, value: str) -> str:
        if "{keyword}" not in value:
            raise ValueError("the search URL needs a {keyword} placeholder")
        return value


class ListingSpec(_Strict):
    """The listing card on a search page and where each field is inside it."""

    card: str  # CSS selector (or a JSON path for json_api), checked by the profile
    fields: dict[str, FieldSpec]
    no_results: Marker | None = None  # the marketplace's "no results" message

    @field_validator("fields", mode="before")
    @classmethod
    def _coerce(cls, value: Any) -> Any:
        return {k: _field(v) for k, v in value.items()} if isinstance(value, dict) else value

    _no_results = field_validator("no_results", mode="before")(
        classmethod(lambda cls, v: _field(v)))

    @field_validator("fields")
    @classmethod
    def _known(cls, value: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        return _known_fields(value, REQUIRED_FIELDS)


class Detail(_Strict):
    """Fields read from each listing's own page, and when to fetch it."""

    when: Literal["always", "missing", "never"] = "never"
    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    # a repeat sweep reads a listing's detail page again only when its card's title or
    # price changed or its last reading is older than this (0: every sweep reads it)
    refresh_days: float = Field(default=7, ge=0, le=3650)

    _coerce = field_validator("fields", mode="before")(classmethod(
        lambda cls, v: {k: _field(x) for k, x in v.items()} if isinstance(v, dict) else v))

    @field_validator("fields")
    @classmethod
    def _known(cls, value: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        return _known_fields(value, ())

    @field_validator("refresh_days", mode="before")
    @classmethod
    def _days(cls, value: Any) -> Any:
        if isinstance(value, bool):  # pydantic would read true as 1 day
            raise ValueError("give a number of days, e.g. 7 (0: read every sweep)")
        return value


class Blocked(_Strict):
    """What a CAPTCHA, bot wall or login wall looks like on this marketplace: any CSS
    selector (``selectors``), XPath (``xpath``) or text (``text``, case-insensitive)
    that is found means blocked. See ``crawler.extract.markers``."""

    selectors: list[Css] = Field(default_factory=list)
    xpath: list[XPath] = Field(default_factory=list)
    text: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)


class Removed(_Strict):
    """What a taken-down listing's page looks like: ``verify`` reads it as ``removed``."""

    status: list[int] = Field(default_factory=lambda: [404, 410])
    selectors: list[Css] = Field(default_factory=list)
    text: list[str] = Field(default_factory=list)


class Evidence(_Strict):
    """How to photograph a listing page for evidence."""

    # a page whose scripts draw the listing: wait for this CSS selector before the shot
    wait_for: Css | None = None


class Politeness(_Strict):
    concurrency: int = Field(default=4, ge=1, le=64)
    delay: float = Field(default=0.0, ge=0)
    robots_txt: bool = True
    autothrottle: bool = True


class Images(_Strict):
    """Which listing photos a sweep fetches: the first ``max`` of each new listing."""

    max: int = Field(default=1, ge=0, le=20)  # 0: fetch none


class Monitor(_Strict):
    """How a sweep judges this marketplace against its own last sweeps (``crawler.sweep.monitor``):
    a figure that falls below ``(1 - drop)`` times the median of the last ``history``
    healthy sweeps marks it ``degraded``. A drop of ``null`` turns that check off."""

    history: int = Field(default=5, ge=1, le=100)  # earlier sweeps whose median counts
    min_sweeps: int = Field(default=1, ge=1, le=100)  # fewer earlier sweeps: not judged
    listings_drop: float | None = Field(default=0.5, gt=0, lt=1)
    pages_drop: float | None = Field(default=0.5, gt=0, lt=1)
    coverage_drop: float | None = Field(default=0.5, gt=0, lt=1)
    # field coverage is judged only when this sweep and the median found this many
    min_listings: int = Field(default=10, ge=1)
    ignore: list[str] = Field(default_factory=list)  # fields whose coverage is not judged

    @field_validator("ignore")
    @classmethod
    def _fields(cls, value: list[str]) -> list[str]:
        for name in value:
            if name not in LISTING_FIELDS:
                raise ValueError(f"unknown listing field {name!r}"
                                 f"{yamlfile.hint(name, LISTING_FIELDS)}")
        return value

    @model_validator(mode="after")
    def _enough_history(self) -> Monitor:
        if self.min_sweeps > self.history:
            raise ValueError(f"min_sweeps ({self.min_sweeps}) cannot exceed history "
                             f"({self.history})")
        return self


class MarketplaceProfile(_Strict):
    """One marketplace, as a sweep needs to know it."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str
    base_url: str
    # other hosts its pages may link to and brandsweep may fetch (crawler.urls)
    allowed_hosts: list[str] = Field(default_factory=list)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    notice_program: NoticeProgram
    notice_contact: str | None = None  # where the program takes notices (address or form)
    search: Search
    listing: ListingSpec
    detail: Detail = Field(default_factory=Detail)
    blocked: Blocked = Field(default_factory=Blocked)
    removed: Removed = Field(default_factory=Removed)
    evidence: Evidence = Field(default_factory=Evidence)
    politeness: Politeness = Field(default_factory=Politeness)
    images: Images = Field(default_factory=Images)
    monitor: Monitor = Field(default_factory=Monitor)
    spider: str | None = None  # dotted path of a Python spider class, the escape hatch
    source: str = ""  # the file it came from (set by the loader)

    @field_validator("base_url")
    @classmethod
    def _fetchable(cls, value: str) -> str:
        try:
            urls.UrlPolicy.from_base(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} cannot be swept: {exc}") from exc
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        for host in value:
            if (problem := urls.host_problem(host)) is not None:
                raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _json_api_fields(self) -> MarketplaceProfile:
        json_api = self.search.pagination.kind == "json_api"
        for name, spec in self.listing.fields.items():
            if json_api != (spec.jsonpath is not None):
                raise ValueError(f"listing field {name!r}: " + (
                    "a json_api profile reads fields with 'jsonpath'" if json_api else
                    "'jsonpath' is only for json_api profiles; use css or xpath"))
        if json_api and self.search.render != "http":
            raise ValueError("a json_api profile fetches JSON over HTTP: use render: http")
        if not json_api and (problem := css_problem(self.listing.card)) is not None:
            raise ValueError(f"listing.card: {problem}")  # yamlfile.problems locates it
        return self

    @model_validator(mode="after")
    def _search_fetchable(self) -> MarketplaceProfile:
        try:
            url = self.search_url("brandsweep")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"search.url: {self.search.url!r} does not format ({exc}); "
                             "its placeholders are {base_url}, {keyword}, {page} and "
                             "{offset} (write {{ and }} for braces)") from exc
        if (why := urls.for_profile(self).refusal(url)) is not None:
            raise ValueError(f"search.url: {url} may not be fetched: {why}")
        return self

    def search_url(self, keyword: str, page: int | None = None, offset: int = 0) -> str:
        """The search URL: ``{keyword}``, ``{page}`` and ``{offset}`` filled in."""
        from urllib.parse import quote_plus

        return self.search.url.format(base_url=self.base_url.rstrip("/"),
                                      keyword=quote_plus(keyword),
                                      page=page if page is not None else
                                      self.search.pagination.first_page, offset=offset)
