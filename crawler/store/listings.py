"""Listings (one row per marketplace + listing id, merged over every sighting) and their
observations (what each sweep saw of each, so price and title history survive)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from crawler.items import Listing
from crawler.store.db import Connection, now


class Saved(int):
    """What ``save`` wrote: how many listings were new to the store (the int itself, as
    callers always counted it) and ``rows``, each listing's row as stored now."""

    rows: list[dict[str, Any]]

    def __new__(cls, new: int, rows: list[dict[str, Any]]) -> Saved:
        saved = super().__new__(cls, new)
        saved.rows = rows
        return saved


def save(store: Connection, sweep_id: int, listings: Iterable[Listing],
         campaign: str | None = None) -> Saved:
    """Upsert listings and their observations in one transaction; return how many were
    new to the store, with the rows written. The same listing found by another keyword
    gains that keyword."""
    batch: dict[tuple[str, str], Listing] = {}
    found_by: dict[tuple[str, str], set[str]] = {}
    for item in listings:
        key = (item.marketplace, item.listing_id)
        if key in batch and item.description is None:
            item.description = batch[key].description
        batch[key] = item  # the latest sighting wins, keywords accumulate
        found_by.setdefault(key, set()).add(item.keyword)
    if not batch:
        return Saved(0, [])
    seen_at = now()
    with store.transaction() as conn:
        old = _existing(store, "listings",
                        "keywords, campaigns, description, first_seen, first_sweep",
                        list(batch))
        old_obs = _existing(store, "observations", "keywords", list(batch), sweep_id)
        listing_rows, observation_rows = [], []
        for key, item in batch.items():
            prev = old.get(key)
            keywords = _merge(prev["keywords"] if prev else None, found_by[key])
            campaigns = _merge(prev["campaigns"] if prev else None,
                               [campaign] if campaign else [])
            listing_rows.append((
                item.marketplace, item.listing_id, item.url, item.title,
                item.description, item.price, item.price_high, item.currency,
                item.seller, item.seller_id, item.seller_url, item.seller_location,
                item.ships_from, item.condition, json.dumps(item.image_urls),
                item.units_sold, item.moq, keywords, campaigns, item.render_mode,
                seen_at, seen_at, sweep_id, sweep_id))
            obs_prev = old_obs.get(key)
            observation_rows.append((
                sweep_id, item.marketplace, item.listing_id, seen_at, item.url,
                item.title, item.price, item.price_high, item.currency, item.seller,
                _merge(obs_prev["keywords"] if obs_prev else None, found_by[key]),
                item.render_mode))
        conn.executemany(_UPSERT_LISTING, listing_rows)
        conn.executemany(_UPSERT_OBSERVATION, observation_rows)
    return Saved(len(batch) - len(old), [_as_stored(row, old.get(row[:2]))
                                         for row in listing_rows])


def _as_stored(row: tuple[Any, ...], prev: dict[str, Any] | None) -> dict[str, Any]:
    """The listing row the upsert left: the first sighting and a description a page
    without one did not erase are kept from ``prev``."""
    out = dict(zip(_LISTING_COLUMNS, row, strict=True))
    if prev is not None:
        out["first_seen"], out["first_sweep"] = prev["first_seen"], prev["first_sweep"]
        if out["description"] is None:
            out["description"] = prev["description"]
    return out


def _existing(store: Connection, table: str, columns: str, keys: list[tuple[str, str]],
              sweep_id: int | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """Rows of ``table`` for these (marketplace, listing_id) keys, in a few queries."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    where_sweep = "and t.sweep_id = ?" if sweep_id is not None else ""
    for i in range(0, len(keys), 400):  # stay far below SQLite's variable limit
        chunk = keys[i:i + 400]
        values = ", ".join(["(?, ?)"] * len(chunk))
        params: list[Any] = [v for key in chunk for v in key]
        if sweep_id is not None:
            params.append(sweep_id)
        # only our own table and column names are formatted in; values are bound
        sql = (f"with k(m, l) as (values {values}) select t.marketplace, t.listing_id, "  # noqa: S608
               f"{columns} from [{table}] t join k on t.marketplace = k.m and "
               f"t.listing_id = k.l {where_sweep}")
        for row in store.db.query(sql, params):
            out[(row["marketplace"], row["listing_id"])] = row
    return out


def for_keywords(store: Connection, keywords: list[str],
                 keys: list[tuple[str, str]] | None = None, brand: str | None = None,
                 shard: tuple[int, int] = (0, 1)) -> Iterator[dict[str, Any]]:
    """Listings found by any of ``keywords`` (or exactly ``keys``), each with the
    stored evaluation of ``brand`` as ``_version``, ``_stage``, ``_score``, ``_matches``;
    by marketplace and listing id, or, for a ``shard`` (k, n) with n > 1, the k-th of n
    disjoint parts, in the order they were first stored."""
    folded = [" ".join(k.casefold().split()) for k in keywords]
    params: list[Any] = [brand or ""]
    where = ("exists (select 1 from json_each(l.keywords) where lower(value) in "  # noqa: S608
             f"({', '.join('?' * len(folded))}))")
    params += folded
    if keys is not None:
        values = ", ".join(["(?, ?)"] * len(keys)) or "(null, null)"
        where = f"(l.marketplace, l.listing_id) in (values {values})"
        params = [brand or "", *[v for k in keys for v in k]]
    order = "l.marketplace, l.listing_id"
    if shard[1] > 1:
        # (k, n): the k-th of n disjoint runs of rowids, for parallel workers, in rowid
        # order: each worker reads only its part of the table, front to back (a rowid
        # modulo had each walk the whole key index and seek every row it kept)
        k, n = shard
        top = store.conn.execute("select max(rowid) from listings").fetchone()[0] or 0
        size = top // n + 1
        bounds = []
        if k > 0:
            bounds.append("l.rowid >= ?")
            params.append(k * size)
        if k < n - 1:
            bounds.append("l.rowid < ?")
            params.append((k + 1) * size)
        where = " and ".join([f"({where})", *bounds])
        order = "l.rowid"
    # only constant SQL is formatted in; every value is bound
    # `_facts`: what crawler.images.facts and crawler.cases.networks found (JSON), for the
    # rules' image and seller selections
    sql = ("select l.*, e.version as _version, e.stage as _stage, e.score as _score, "  # noqa: S608
           "e.matches as _matches, f.facts as _facts from listings l left join "
           "evaluations e on e.brand = ?1 and e.marketplace = l.marketplace and "
           "e.listing_id = l.listing_id left join listing_facts f on f.brand = ?1 and "
           "f.marketplace = l.marketplace and f.listing_id = l.listing_id "
           f"where {where} order by {order}")
    cursor = store.conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    while rows := cursor.fetchmany(2000):
        for row in rows:
            yield dict(zip(names, row, strict=True))


def search(store: Connection, text: str, limit: int = 20) -> list[dict[str, Any]]:
    """Full-text search over listing titles and descriptions."""
    return list(store.db.table("listings").search(text, limit=limit))


def get(store: Connection, marketplace: str, listing_id: str) -> dict[str, Any] | None:
    """The listing's row, or None."""
    rows = list(store.db.query("select * from listings where marketplace = ? and "
                               "listing_id = ?", [marketplace, listing_id]))
    return dict(rows[0]) if rows else None


# the matches of a search a page of ``with_verdicts`` is ranked among: the newest ones
# (those stored last), when more listings match
RANKED = 50_000


def with_verdicts(store: Connection, *, brand: str | None = None,
                  marketplace: str | None = None, stage: str | None = None,
                  unstaged: bool = False, search: str | None = None,
                  limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
    """Every stored listing (one row per brand that judged it) with its verdict, its
    case if it has one, and its seller; ``search`` is full text over title and
    description, each word as typed (no query syntax), best matches first (a page with
    no other filter: the best of the newest ``RANKED`` matches)."""
    where: list[str] = ["1 = 1"]
    params: list[Any] = []
    join_brand = ""
    if brand is not None:
        join_brand = " and e.brand = ?"
        params.append(brand)
    for column, value in (("l.marketplace", marketplace), ("e.stage", stage)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if unstaged:
        where.append("e.stage is null")
    source, order, ranked = "listings l", "l.marketplace, l.listing_id, e.brand", ""
    if search is not None and search.split():
        # driven by the full-text index, best matches first
        source = "listings_fts f join listings l on l.rowid = f.rowid"
        order = "f.rank, l.marketplace, l.listing_id, e.brand"
        if limit is not None and len(where) == 1:
            # a page of a common word's matches: rank them once, in the index, but join
            # only the best ``offset + limit`` listings (and any tied with the last of
            # them) to their verdicts; each listing gives a row at least, so the page is
            # among them. Ranking costs a lookup per match: a word in a third of a million
            # listings took half a second for it alone, so a page ranks the newest
            # ``RANKED`` matches (all of them, for any word in fewer listings)
            ranked = ("with r as materialized (select rowid, rank from listings_fts where "  # noqa: S608
                      f"listings_fts match ?1 order by rowid desc limit {int(RANKED)}) ")
            source = ("(select rowid, rank from r where rank <= coalesce((select rank from "
                      "r order by rank limit 1 offset ?2), 1e999)) f join listings l on "
                      "l.rowid = f.rowid")
            params = [fts_words(search), offset + limit - 1, *params]
        else:
            where.append("listings_fts match ?")
            params.append(fts_words(search))
    # only constant SQL is formatted in; every value is bound
    sql = (f"{ranked}select l.marketplace, l.listing_id, l.title, l.price, l.currency, "  # noqa: S608
           "l.seller, "
           "l.url, l.last_seen, e.brand, e.stage, e.score, c.id as case_id, "
           f"c.status as case_status from {source} left join evaluations e on "
           f"e.marketplace = l.marketplace and e.listing_id = l.listing_id{join_brand} "
           "left join cases c on c.brand = e.brand and c.marketplace = l.marketplace "
           f"and c.listing_id = l.listing_id where {' and '.join(where)} "
           f"order by {order}")
    if limit is not None:
        sql += " limit ? offset ?"
        params += [limit, offset]
    return list(store.db.query(sql, params))


def price_drops(store: Connection, sweep_id: int) -> list[dict[str, Any]]:
    """Listings this sweep saw at a lower price than their previous observation."""
    # `+p.sweep_id`: the previous sighting's price from the listing's few index entries
    # (idx_observations_listing_sweep holds it, 0015), not a seek of its row by the key
    return [dict(zip(("marketplace", "listing_id", "title", "old", "new", "currency"), r,
                     strict=True)) for r in store.conn.execute(
        "select o.marketplace, o.listing_id, o.title, p.price, o.price, o.currency from "
        "observations o join observations p on p.marketplace = o.marketplace and "
        "p.listing_id = o.listing_id and +p.sweep_id = (select max(q.sweep_id) from "
        "observations q where q.marketplace = o.marketplace and q.listing_id = "
        "o.listing_id and q.sweep_id < o.sweep_id) where o.sweep_id = ? and "
        "cast(o.price as real) < cast(p.price as real) order by o.marketplace, "
        "o.listing_id", [sweep_id])]


def fts_words(text: str) -> str:
    """An FTS5 query matching every word of ``text`` as written: each word quoted, so
    quotes, ``*`` or ``OR`` typed by a user are searched for, not run as syntax."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in text.split())


_LISTING_COLUMNS = (
    "marketplace", "listing_id", "url", "title", "description", "price", "price_high",
    "currency", "seller", "seller_id", "seller_url", "seller_location", "ships_from",
    "condition", "image_urls", "units_sold", "moq", "keywords", "campaigns", "render_mode",
    "first_seen", "last_seen", "first_sweep", "last_sweep")
_KEEP_FIRST = ("marketplace", "listing_id", "first_seen", "first_sweep")
# built from the constant column lists above; every value is a bound parameter
_UPSERT_LISTING = (
    f"insert into listings ({', '.join(_LISTING_COLUMNS)}) values "  # noqa: S608
    f"({', '.join('?' * len(_LISTING_COLUMNS))}) on conflict (marketplace, listing_id) do "
    "update set " + ", ".join(
        f"{c} = coalesce(excluded.{c}, listings.{c})" if c == "description" else
        f"{c} = excluded.{c}" for c in _LISTING_COLUMNS if c not in _KEEP_FIRST))
_OBSERVATION_COLUMNS = (
    "sweep_id", "marketplace", "listing_id", "seen_at", "url", "title", "price", "price_high",
    "currency", "seller", "keywords", "render_mode")
_UPSERT_OBSERVATION = (
    f"insert into observations ({', '.join(_OBSERVATION_COLUMNS)}) values "  # noqa: S608
    f"({', '.join('?' * len(_OBSERVATION_COLUMNS))}) on conflict (sweep_id, marketplace, "
    "listing_id) do update set " + ", ".join(
        f"{c} = excluded.{c}" for c in _OBSERVATION_COLUMNS[3:]))


def _merge(old_json: str | None, add: Iterable[str]) -> str:
    values = set(json.loads(old_json)) if old_json else set()
    values.update(add)
    return json.dumps(sorted(values), ensure_ascii=False)
