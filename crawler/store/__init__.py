"""The SQLite store, brandsweep's one data layer: no SQL lives outside this package.

``Store`` is one open file (``db.Connection``: the connection, its pragmas and
``transaction()``) with the methods sweeps, pipelines and the workbench have always called;
everything else is a function of the table group's module taking the store first:
``sweeps``, ``listings`` (and observations), ``evaluations``, ``cases`` (and their events,
and the ``case_listings`` view), ``evidence``, ``notices``, ``images``, ``networks``,
``details`` (detail readings).
Schema changes are registered migrations (``schema``), applied in order and recorded in
``_migrations``. WAL mode; every batch of writes is one transaction, so a killed process
leaves either all of a batch or none of it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any


def _import_sqlite_utils() -> None:
    """Import sqlite-utils without numpy and pandas: it imports them when installed only to
    map their scalar types to column types, and the store never hands it one (photo hashes
    are ints before they are stored). numpy alone was a quarter of every command's start;
    a process that has imported numpy already keeps sqlite-utils' full type map."""
    hidden = [name for name in ("numpy", "pandas") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        import sqlite_utils  # noqa: F401
    finally:
        for name in hidden:
            if sys.modules.get(name, ...) is None:
                del sys.modules[name]


_import_sqlite_utils()  # before the modules below import it

from crawler.items import Listing  # noqa: E402
from crawler.store import cases, evaluations, images, listings, sweeps  # noqa: E402
from crawler.store.db import Connection, check_path, now, store_errors  # noqa: E402
from crawler.store.listings import Saved, fts_words  # noqa: E402
from crawler.store.schema import MIGRATIONS  # noqa: E402

__all__ = ["MIGRATIONS", "Saved", "Store", "check_path", "fts_words", "now"]


class Store(Connection):
    """One SQLite file. Open it, ``migrate()``, then record sweeps and listings."""

    @store_errors
    def migrate(self) -> list[str]:
        """Apply migrations not yet recorded; return the names applied."""
        from crawler.store.schema import migrate

        return migrate(self.db)

    # -- sweeps ---------------------------------------------------------------------------

    def start_sweep(self, *, kind: str, brand: str | None, campaign: str | None,
                    marketplaces: list[str], keywords: list[str], max_pages: int,
                    resumes: int | None = None) -> int:
        """Record a running sweep; first marks any sweep whose process died ``interrupted``."""
        return sweeps.start(self, kind=kind, brand=brand, campaign=campaign,
                            marketplaces=marketplaces, keywords=keywords,
                            max_pages=max_pages, resumes=resumes)

    def finish_sweep(self, sweep_id: int, status: str, stats: dict[str, Any]
                     ) -> dict[str, Any]:
        """Record how the sweep ended; return the columns written."""
        return sweeps.finish(self, sweep_id, status, stats)

    def mark_interrupted(self) -> int:
        """Sweeps left ``running`` by a process that no longer exists become ``interrupted``."""
        return sweeps.mark_interrupted(self)

    def running_sweeps(self) -> set[int]:
        """Ids of the sweeps marked running (run ``mark_interrupted`` first)."""
        return sweeps.running(self)

    def mark_done(self, sweep_id: int, marketplace: str, status: str) -> dict[str, Any]:
        """Checkpoint: this marketplace of this sweep is complete and stored."""
        return sweeps.mark_done(self, sweep_id, marketplace, status)

    def resumable(self, kind: str, brand: str | None, marketplaces: list[str],
                  keywords: list[str], max_pages: int) -> tuple[int, set[str]] | None:
        """The last sweep of this very plan, if it was interrupted: its id and the
        marketplaces it (or the sweeps it resumed) finished."""
        return sweeps.resumable(self, kind, brand, marketplaces, keywords, max_pages)

    def sweep(self, sweep_id: int) -> dict[str, Any]:
        """The sweep's row."""
        return sweeps.get(self, sweep_id)

    # -- listings and evaluations ---------------------------------------------------------

    def save(self, sweep_id: int, listings: Iterable[Listing], campaign: str | None = None
             ) -> Saved:
        """Upsert listings and their observations in one transaction; return how many were
        new to the store (with ``.rows``, what was written)."""
        return _listings.save(self, sweep_id, listings, campaign)

    def listings_for(self, keywords: list[str], keys: list[tuple[str, str]] | None = None,
                     brand: str | None = None, shard: tuple[int, int] = (0, 1)
                     ) -> Iterator[dict[str, Any]]:
        """Listings found by any of ``keywords`` (or exactly ``keys``), each with the
        stored evaluation of ``brand`` as ``_version``, ``_stage``, ``_score``, ``_matches``
        (``shard`` (k, n): the k-th of n disjoint parts, in rowid order)."""
        return _listings.for_keywords(self, keywords, keys, brand, shard)

    def save_evaluations(self, brand: str, rows: Iterable[tuple[str, str, str, int,
                                                                 str | None, str]],
                         sweep_id: int | None = None) -> int:
        """Store verdict rows in one transaction; return how many."""
        return evaluations.save(self, brand, rows, sweep_id)

    def stage_counts(self, brand: str, sweep_id: int | None = None) -> dict[str, int]:
        """Listings per stage for ``brand`` (only those seen by ``sweep_id`` if given)."""
        return evaluations.stage_counts(self, brand, sweep_id)

    def search(self, text: str, limit: int = 20) -> list[dict[str, Any]]:
        """Full-text search over listing titles and descriptions."""
        return _listings.search(self, text, limit)

    def listings_with_verdicts(self, *, brand: str | None = None,
                               marketplace: str | None = None, stage: str | None = None,
                               unstaged: bool = False, search: str | None = None,
                               limit: int | None = None, offset: int = 0
                               ) -> list[dict[str, Any]]:
        """Every stored listing (one row per brand that judged it) with its verdict, its
        case if it has one, and its seller (``listings.with_verdicts``)."""
        return _listings.with_verdicts(self, brand=brand, marketplace=marketplace,
                                       stage=stage, unstaged=unstaged, search=search,
                                       limit=limit, offset=offset)

    # -- images ---------------------------------------------------------------------------

    def has_images(self, marketplace: str, listing_id: str) -> bool:
        """Whether this listing's photos were fetched (or tried) before."""
        return images.has_images(self, marketplace, listing_id)

    def image_for_url(self, url: str) -> str | None:
        """The content hash of the photo last fetched from ``url``, if any."""
        return images.image_for_url(self, url)

    def save_image(self, image: dict[str, Any], hashes: list[tuple[str, str, int]]
                   ) -> dict[str, Any]:
        """Record a stored photo and its hash rows, once per content; return the row."""
        return images.save_image(self, image, hashes)

    def link_image(self, marketplace: str, listing_id: str, position: int, url: str,
                   sha256: str | None, status: str) -> dict[str, Any]:
        """Which photo a listing shows at ``position``; return the row written."""
        return images.link_image(self, marketplace, listing_id, position, url, sha256,
                                 status)

    def image_hash_rows(self) -> Iterator[tuple[str, str, str, int]]:
        """Every stored (sha256, view, algorithm, value) hash row, by photo."""
        return images.image_hash_rows(self)

    def listing_photos(self) -> Iterator[tuple[str, str, str, str | None, str]]:
        """(marketplace, listing_id, sha256, seller, title) of every fetched photo."""
        return images.listing_photos(self)

    def save_facts(self, brand: str, facts: dict[tuple[str, str], str]
                   ) -> list[tuple[str, str, str, str, str]]:
        """Replace ``brand``'s per-listing facts; return the rows written."""
        return images.save_facts(self, brand, facts)

    # -- the workbench's queue ------------------------------------------------------------

    def case_queue(self, *, brand: str | None = None, marketplace: str | None = None,
                   stage: str | None = None, status: str | None = "open",
                   seller: str | None = None, limit: int = 200, offset: int = 0
                   ) -> list[dict[str, Any]]:
        """Cases with their listing's title, price and seller, highest score first
        (``status=None``: every status)."""
        return cases.queue(self, brand=brand, marketplace=marketplace, stage=stage,
                           status=status, seller=seller, limit=limit, offset=offset)

    def case_counts(self, *, brand: str | None = None, marketplace: str | None = None,
                    stage: str | None = None, status: str | None = "open",
                    seller: str | None = None) -> dict[str, int]:
        """How many cases the same filters select, per stage (``-`` for none)."""
        return cases.counts(self, brand=brand, marketplace=marketplace, stage=stage,
                            status=status, seller=seller)

    def case_facets(self) -> dict[str, list[str]]:
        """The brands, marketplaces and stages the cases have, for filter menus."""
        return cases.facets(self)


_listings = listings  # the methods' parameter ``listings`` shadows the module
