"""What a sweep extracts from a marketplace: one ``Listing`` per card it sees."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Listing:
    """A listing as seen on one page of one sweep. Identity: (marketplace, listing_id)."""

    marketplace: str
    listing_id: str
    url: str
    title: str
    keyword: str
    render_mode: str  # "http" or "browser": how the page that showed it was fetched
    price: str | None = None  # decimal as text, exact
    price_high: str | None = None
    currency: str | None = None
    description: str | None = None
    seller: str | None = None
    seller_id: str | None = None
    seller_url: str | None = None
    seller_location: str | None = None
    ships_from: str | None = None
    condition: str | None = None
    image_urls: list[str] = field(default_factory=list)
    units_sold: int | None = None
    moq: int | None = None
