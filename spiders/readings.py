"""What earlier sweeps read on each listing's detail page, for the profile spider to
complete a listing whose card has not changed without fetching its page again.

At the first card it loads, in one query, a short fingerprint of the card (title and
price) of every listing of the marketplace whose detail page was read within the
profile's ``detail.refresh_days``; the values of a listing it skips are read one at a
time by primary key, so a sweep of tens of thousands of listings never holds their
descriptions. Each detail page read is recorded (in batches, and when the crawl closes)
with the card it was read for; a page that could not be read records nothing. A listing
another keyword finds again in the same crawl is completed from its recorded reading too
(read back by primary key), so the crawl's memory does not grow with what its detail
pages said.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from crawler.extract import fields as extract
from crawler.items import Listing
from crawler.store import Store, now
from crawler.store import details as stored
from crawler.store.details import Card


def card_of(listing: Listing) -> Card:
    """What of a card decides whether its detail page is read again."""
    return (listing.listing_id, listing.title, listing.price, listing.price_high,
            listing.currency)


def _fingerprint(card: Card) -> bytes:
    return hashlib.blake2b(json.dumps(card[1:]).encode(), digest_size=8).digest()


class DetailReadings:
    """One marketplace's detail readings in the store at ``db`` (None: no store, so
    every detail page is fetched and nothing is recorded). ``refresh_days`` 0: every
    detail page is fetched again (readings are still recorded)."""

    def __init__(self, db: str | None, marketplace: str, refresh_days: float,
                 sweep_id: int | None = None, batch: int = 200) -> None:
        self.db = db
        # opened at first use: a crawl that neither reads nor records readings (a
        # distributed worker, which never sees a card) never touches the file
        self._store: Store | None = None
        self.marketplace = marketplace
        self.refresh_days = refresh_days
        self.sweep_id = sweep_id
        self.batch = batch
        self._known: dict[str, bytes] | None = None  # loaded at the first card
        self._pending: list[tuple[Card, str, dict[str, Any]]] = []
        self.skipped: set[str] = set()  # listings completed from a reading, this crawl
        self._read: set[str] = set()  # listings whose detail page this crawl read
        # what this crawl read that is not in the store: readings not yet written, and
        # all of them without a store (or for a page read with no card to record it with)
        self._held: dict[str, dict[str, extract.Value]] = {}

    def unchanged(self, listing: Listing) -> dict[str, extract.Value] | None:
        """The values the listing's last detail page read gave, when that was recent
        enough and for a card with the same title and price as this one; else None."""
        if self.db is None or self.refresh_days <= 0:
            return None
        if self._known is None:
            self._known = {card[0]: _fingerprint(card) for card in
                           stored.fresh(self.store(), self.marketplace, self.refresh_days)}
        if self._known.get(listing.listing_id) != _fingerprint(card_of(listing)):
            return None
        found = stored.values(self.store(), self.marketplace, listing.listing_id)
        if found is not None:
            self.skipped.add(listing.listing_id)
        return found

    def read(self, listing_id: str, values: dict[str, extract.Value],
             listing: Listing | None = None) -> None:
        """``listing_id``'s detail page was read now and gave ``values``; it is recorded
        with ``listing``'s card (None: no card to record it with, so only this crawl
        remembers it)."""
        self._read.add(listing_id)
        self._held[listing_id] = values
        if self.db is None or listing is None:
            return
        self._pending.append((card_of(listing), now(), values))
        if len(self._pending) >= self.batch:
            self.flush()

    def this_crawl(self, listing_id: str) -> dict[str, extract.Value] | None:
        """What the listing's detail page gave when this crawl read it; None when this
        crawl has not read it."""
        if listing_id not in self._read:
            return None
        held = self._held.get(listing_id)
        if held is not None:
            return held
        return stored.values(self.store(), self.marketplace, listing_id)

    def flush(self) -> None:
        """Write the readings not yet written."""
        if self.db is not None and self._pending:
            pending, self._pending = self._pending, []
            stored.record(self.store(), self.marketplace, self.sweep_id, pending)
            for card, _, _ in pending:  # in the store now, read back from there
                self._held.pop(card[0], None)

    def store(self) -> Store:
        """The store (``db`` is set), opened at the first call."""
        if self._store is None:
            assert self.db is not None, "no store: BRANDSWEEP_DB unset"
            self._store = Store(self.db)
        return self._store
