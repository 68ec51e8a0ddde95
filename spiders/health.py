"""How a marketplace behaved during a sweep: what its spider counts and how it ended."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Health:
    """How a marketplace behaved during a sweep."""

    status: str = "ok"  # ok | blocked | extraction_failed | failed
    reason: str | None = None  # the page that showed the problem, and what it was
    pages: dict[str, int] = field(default_factory=lambda: {"http": 0, "browser": 0})
    detail_pages: int = 0  # detail pages fetched and read
    # listings completed from an earlier sweep's detail reading (card unchanged, recent)
    detail_skipped: int = 0
    listings: int = 0  # distinct listings seen
    cards: int = 0  # listing cards read, counting one listing on several pages
    no_results: list[str] = field(default_factory=list)  # keywords with no results
    failed_pages: list[str] = field(default_factory=list)
    refused_urls: int = 0  # URLs crawler.urls refused: links on pages, redirects
    refused: list[str] = field(default_factory=list)  # the first of them, and why
    switched_to_browser: bool = False
    price_warnings: int = 0  # prices shown but not stored: negative, NaN, absurd, unknown

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
