"""What judging a batch of listings needs from the store beyond the batch itself.

The store pipeline hands the judging pipeline the listings it has just written; the rule
set also reads two things those listings may not carry: the description an earlier
sighting stored (a listing seen again without its detail page keeps it), and the photo
and seller facts ``crawler.images.facts`` and ``crawler.cases.networks`` found (``_facts``).
"""

from __future__ import annotations

from typing import Any

from crawler.store import Store

Key = tuple[str, str]  # (marketplace, listing_id)


def stored_descriptions(store: Store, keys: list[Key]) -> dict[Key, str]:
    """The stored description of each of ``keys`` that has one."""
    return {k: v for k, v in _lookup(store, "select l.marketplace, l.listing_id, "
                                     "l.description from listings l", [], keys).items()
            if v is not None}


def facts(store: Store, brand: str, keys: list[Key]) -> dict[Key, str]:
    """The ``listing_facts`` JSON of ``brand`` for each of ``keys`` that has facts."""
    return {k: v for k, v in _lookup(store, "select f.marketplace, f.listing_id, f.facts "
                                     "from listing_facts f", [brand], keys,
                                     where="f.brand = ?").items() if v is not None}


def _lookup(store: Store, select: str, params: list[Any], keys: list[Key],
            where: str | None = None) -> dict[Key, Any]:
    out: dict[Key, Any] = {}
    alias = select.rsplit(" ", 1)[-1]
    for i in range(0, len(keys), 400):  # stay far below SQLite's variable limit
        chunk = keys[i:i + 400]
        values = ", ".join(["(?, ?)"] * len(chunk))
        # only constant SQL is formatted in; every value is bound
        sql = (f"with k(m, l) as (values {values}) {select} join k on "
               f"{alias}.marketplace = k.m and {alias}.listing_id = k.l"
               + (f" where {where}" if where else ""))
        for m, lid, value in store.db.conn.execute(
                sql, [v for key in chunk for v in key] + params):
            out[(m, lid)] = value
    return out
