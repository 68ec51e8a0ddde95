"""Cases (a staged listing on its way to a notice) and their audit trail, ``case_events``
(append-only); ``case_listings`` is the view of each case with its listing's columns."""

from __future__ import annotations

from typing import Any

from crawler.store.db import Connection, one_row, where_equal

# a case with the columns of its listing, as every reader of cases wants it
CASE_ROW = ("select c.id, c.brand, c.marketplace, c.listing_id, c.stage, c.score, c.status, "
            "c.opened_at, c.updated_at, c.sweep_id, c.relisted_from, c.title, c.price, "
            "c.currency, c.seller, c.url, (select 1 from evidence v where v.case_id = c.id) "
            "as has_evidence from case_listings c")


def staged(store: Connection, brand: str) -> list[tuple[Any, ...]]:
    """(marketplace, listing_id, stage, score, version, case id, case stage, status) of
    every listing the brand stages or has a case for (case columns None without one)."""
    return store.conn.execute(
        "select e.marketplace, e.listing_id, e.stage, e.score, e.version, c.id, c.stage, "
        "c.status from evaluations e left join cases c on c.brand = e.brand and "
        "c.marketplace = e.marketplace and c.listing_id = e.listing_id "
        "where e.brand = ? and (e.stage is not null or c.id is not null) "
        "order by e.marketplace, e.listing_id", [brand]).fetchall()


def open_case(store: Connection, brand: str, marketplace: str, listing_id: str,
              stage: str | None, score: int, at: str, sweep_id: int | None) -> int:
    """Insert an ``open`` case; return its id."""
    with store.transaction() as conn:
        cur = conn.execute(
            "insert into cases (brand, marketplace, listing_id, stage, score, status, "
            "opened_at, updated_at, sweep_id) values (?, ?, ?, ?, ?, 'open', ?, ?, ?)",
            [brand, marketplace, listing_id, stage, score, at, at, sweep_id])
    return int(cur.lastrowid or 0)


def restage(store: Connection, case_id: int, stage: str | None, score: int, at: str) -> None:
    """The case follows its listing's new stage and score."""
    with store.transaction() as conn:
        conn.execute("update cases set stage = ?, score = ?, updated_at = ? where id = ?",
                     [stage, score, at, case_id])


def status(store: Connection, case_id: int) -> str | None:
    """The case's status, None if there is no such case."""
    row = store.conn.execute("select status from cases where id = ?", [case_id]).fetchone()
    return None if row is None else str(row[0])


def set_status(store: Connection, case_id: int, to: str, at: str) -> None:
    """Move the case to status ``to`` (the caller records the event)."""
    with store.transaction() as conn:
        conn.execute("update cases set status = ?, updated_at = ? where id = ?",
                     [to, at, case_id])


def set_relisted_from(store: Connection, case_id: int, old_id: int, at: str) -> None:
    """Mark the case as the relisting of the removed case ``old_id``."""
    with store.transaction() as conn:
        conn.execute("update cases set relisted_from = ?, updated_at = ? where id = ?",
                     [old_id, at, case_id])


def add_event(store: Connection, case_id: int, by: str, action: str,
              from_status: str | None, to_status: str | None, reason: str | None,
              sweep_id: int | None, at: str) -> dict[str, Any]:
    """Append one row to the case's audit trail; return it."""
    row = {"case_id": case_id, "at": at, "by": by, "action": action,
           "from_status": from_status, "to_status": to_status, "reason": reason,
           "sweep_id": sweep_id}
    with store.transaction() as conn:
        conn.execute("insert into case_events (case_id, at, by, action, from_status, "
                     "to_status, reason, sweep_id) values (:case_id, :at, :by, :action, "
                     ":from_status, :to_status, :reason, :sweep_id)", row)
    return row


def has_event(store: Connection, case_id: int, action: str, reason: str) -> bool:
    """Whether the case's trail already holds this action with this very reason."""
    return store.conn.execute(
        "select 1 from case_events where case_id = ? and action = ? and reason = ?",
        [case_id, action, reason]).fetchone() is not None


def status_changes(store: Connection, case_id: int) -> list[tuple[int, str, str, str]]:
    """(event id, action, from, to) of each event that changed the case's status,
    latest first."""
    return store.conn.execute(
        "select id, action, from_status, to_status from case_events where case_id = ? "
        "and to_status is not null and from_status is not to_status order by id desc",
        [case_id]).fetchall()


def events(store: Connection, case_id: int) -> list[dict[str, Any]]:
    """The case's audit trail, oldest first."""
    return list(store.db.query(
        "select at, by, action, from_status, to_status, reason from case_events "
        "where case_id = ? order by id", [case_id]))


def relisting_candidates(store: Connection, brand: str, removed: bool
                         ) -> list[tuple[Any, ...]]:
    """``removed``: (id, marketplace, updated_at, title, image sha256, price) of the
    brand's removed cases; else (id, marketplace, first_seen, ...) of its open and
    confirmed cases not linked to a removed one yet."""
    when, where = (("c.updated_at", "c.status = 'removed'") if removed else
                   ("c.first_seen", "c.relisted_from is null and c.status in "
                                    "('open', 'confirmed')"))
    # only constant SQL is formatted in; the brand is bound
    return store.conn.execute(
        f"select c.id, c.marketplace, {when}, c.title, v.image_sha256, c.price "  # noqa: S608
        "from case_listings c left join evidence v on v.case_id = c.id "
        f"where c.brand = ? and {where}", [brand]).fetchall()


def listed(store: Connection, brand: str | None = None, stage: str | None = None,
           status: str | None = None, marketplace: str | None = None,
           limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
    """Cases with their listing's columns and ``has_evidence``, oldest first; at most
    ``limit`` (None: all) after the first ``offset``."""
    where, params = where_equal("c", {"brand": brand, "stage": stage, "status": status,
                                      "marketplace": marketplace})
    if limit is None:
        return list(store.db.query(CASE_ROW + where + " order by c.id", params))
    # the page's ids first, from the cases alone (an index of a filter may hand them over
    # in another order, to be sorted), so only the page is joined to its listings
    return list(store.db.query(
        CASE_ROW + " where c.id in (select c.id from cases c" + where  # noqa: S608 (ours)
        + " order by c.id limit ? offset ?) order by c.id", [*params, limit, offset]))


def get(store: Connection, case_id: int) -> dict[str, Any] | None:
    """The case's own row, or None."""
    return one_row(store, "select * from cases where id = ?", [case_id])


def statuses(store: Connection, case_ids: list[int]) -> dict[int, str]:
    """The status of each of these cases."""
    return {r["id"]: r["status"] for r in store.db.query(
        "select id, status from cases where id in (select value from json_each(?))",
        [str(list(case_ids))])}


def statuses_by_listing(store: Connection, brand: str) -> dict[tuple[str, str], str]:
    """(marketplace, listing_id) -> status of each of the brand's cases."""
    return {(m, lid): s for m, lid, s in store.conn.execute(
        "select marketplace, listing_id, status from cases where brand = ?", [brand])}


def relistings(store: Connection, brand: str) -> list[tuple[str, str, str, str]]:
    """(marketplace, listing_id) of each relisting with those of the case it relists."""
    return store.conn.execute(
        "select n.marketplace, n.listing_id, o.marketplace, o.listing_id from cases n "
        "join cases o on o.id = n.relisted_from where n.brand = ?", [brand]).fetchall()


def to_verify(store: Connection, brand: str) -> list[dict[str, Any]]:
    """id, marketplace and url of the brand's submitted (or still live) cases."""
    return list(store.db.query(
        "select id, marketplace, url from case_listings where brand = ? and status in "
        "('submitted', 'still_live') order by id", [brand]))


def same_seller(store: Connection, brand: str, marketplace: str, seller: str,
                other_than: int, limit: int) -> list[dict[str, Any]]:
    """The seller's other cases of the brand, highest score first."""
    return list(store.db.query(
        "select id, stage, score, status, title, price, currency from case_listings "
        "where brand = ? and marketplace = ? and seller = ? and id != ? "
        "order by score desc, id limit ?", [brand, marketplace, seller, other_than, limit]))


def relisted_from(store: Connection, case_id: int) -> dict[str, Any] | None:
    """id, status, listing_id, title and url of the case ``case_id``, or None."""
    rows = list(store.db.query("select id, status, listing_id, title, url from "
                               "case_listings where id = ?", [case_id]))
    return dict(rows[0]) if rows else None


def relisted_as(store: Connection, case_id: int) -> list[dict[str, Any]]:
    """id and status of the cases that are relistings of ``case_id``."""
    return list(store.db.query("select id, status from cases where relisted_from = ?",
                               [case_id]))


def opened_by(store: Connection, sweep_id: int) -> list[dict[str, Any]]:
    """The cases a sweep opened, highest score first, with their screenshot if any."""
    names = ("id", "marketplace", "listing_id", "stage", "score", "title", "price",
             "currency", "seller", "url", "screenshot", "relisted_from")
    return [dict(zip(names, r, strict=True)) for r in store.conn.execute(
        "select c.id, c.marketplace, c.listing_id, c.stage, c.score, c.title, c.price, "
        "c.currency, c.seller, c.url, v.screenshot, c.relisted_from from case_listings c "
        "left join evidence v on v.case_id = c.id where c.sweep_id = ? order by "
        "c.score desc, c.id", [sweep_id])]


def linked_by(store: Connection, sweep_id: int) -> list[dict[str, Any]]:
    """The relistings a sweep linked: case, the case it relists, marketplace, title."""
    return [dict(zip(("case", "of", "marketplace", "title"), r, strict=True))
            for r in store.conn.execute(
        "select c.id, c.relisted_from, c.marketplace, c.title from case_events e join "
        "case_listings c on c.id = e.case_id where e.sweep_id = ? and e.action = 'link' "
        "order by c.id", [sweep_id])]


def queue(store: Connection, *, brand: str | None = None, marketplace: str | None = None,
          stage: str | None = None, status: str | None = "open", seller: str | None = None,
          limit: int = 200, offset: int = 0) -> list[dict[str, Any]]:
    """Cases with their listing's title, price and seller, highest score first
    (``status=None``: every status)."""
    where, params = _case_filters(brand, marketplace, stage, status, seller)
    # only constant SQL is formatted in; every value is bound
    sql = ("select c.id, c.brand, c.marketplace, c.listing_id, c.stage, c.score, "  # noqa: S608
           "c.status, c.opened_at, c.relisted_from, c.title, c.price, c.currency, "
           f"c.seller, c.url from case_listings c where {where} "
           "order by c.score desc, c.id limit ? offset ?")
    return list(store.db.query(sql, [*params, limit, offset]))


def counts(store: Connection, *, brand: str | None = None, marketplace: str | None = None,
           stage: str | None = None, status: str | None = "open", seller: str | None = None
           ) -> dict[str, int]:
    """How many cases the same filters select, per stage (``-`` for none)."""
    where, params = _case_filters(brand, marketplace, stage, status, seller)
    source = "case_listings" if seller is not None else "cases"  # the seller's is a join
    sql = (f"select coalesce(c.stage, '-') as stage, count(*) as n from {source} c "  # noqa: S608
           f"where {where} group by c.stage order by c.stage")
    return {r["stage"]: r["n"] for r in store.db.query(sql, params)}


def facets(store: Connection) -> dict[str, list[str]]:
    """The brands, marketplaces and stages the cases have, for filter menus."""
    # a skip scan: each next value is one search of the column's index, so a hundred
    # thousand cases of a few brands cost a few searches, not a walk of every case
    return {column: [r[0] for r in store.conn.execute(
        f"with recursive v(x) as (select min({column}) from cases union all "  # noqa: S608
        f"select (select min({column}) from cases where {column} > v.x) from v "
        f"where v.x is not null) select x from v where x is not null")]
        for column in ("brand", "marketplace", "stage")}


def _case_filters(brand: str | None, marketplace: str | None, stage: str | None,
                  status: str | None, seller: str | None) -> tuple[str, list[Any]]:
    where: list[str] = ["1 = 1"]
    params: list[Any] = []
    for column, value in (("c.brand", brand), ("c.marketplace", marketplace),
                          ("c.stage", stage), ("c.status", status), ("c.seller", seller)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    return " and ".join(where), params
