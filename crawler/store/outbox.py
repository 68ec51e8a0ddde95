"""The notification outbox in the store, and the reads a digest is made of.

A message is one rendered digest for one service URL. It is written here before any
delivery is tried (``add``), taken by one process at a time (``claim``: an atomic status
change, so two processes never send the same row), and then marked ``sent`` or put back
``pending`` (``failed`` once automatic retries gave up; ``notify retry`` still sends it).
The URL is kept whole because a retry needs its tokens: the store is as private as the
files that hold those URLs.
"""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

from crawler.store import Store
from crawler.store.db import now

# a claim older than this belongs to a process that died mid-delivery: take it again
STALE_CLAIM = timedelta(minutes=30)
STATUSES = ("pending", "sending", "sent", "failed")


def ensure(store: Store) -> None:
    """The outbox table exists (an older store gains it)."""
    store.migrate()


def add(store: Store, rows: list[dict[str, Any]]) -> list[int]:
    """Write messages (``pending``), all or none; return their ids."""
    ids = []
    at = now()
    with store.db.conn:
        for row in rows:
            cur = store.db.conn.execute(
                "insert into notify_outbox (created_at, kind, brand, sweep_id, triggers, url, "
                "service, title, body_text, body_html, attachments, status, attempts, rounds) "
                "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, 0)",
                [at, row["kind"], row.get("brand"), row.get("sweep_id"),
                 json.dumps(row.get("triggers", [])), row["url"], row["service"],
                 row["title"], row["body_text"], row.get("body_html"),
                 json.dumps(row.get("attachments", []))])
            ids.append(int(cur.lastrowid or 0))
    return ids


def _who() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim(store: Store, *, ids: list[int] | None = None,
          statuses: tuple[str, ...] = ("pending",)) -> list[dict[str, Any]]:
    """Take the messages to deliver (the given ids, or all in ``statuses``), each only if
    no other process holds it; stale claims are taken back. Oldest first."""
    at = datetime.now(UTC)
    stale = (at - STALE_CLAIM).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    who = _who()
    wanted = ", ".join("?" * len(statuses))
    taken = []
    conn = store.db.conn
    with conn:
        if ids is None:
            candidates = [r[0] for r in conn.execute(
                f"select id from notify_outbox where status in ({wanted}) or (status = "  # noqa: S608
                "'sending' and claimed_at < ?) order by id", [*statuses, stale])]
        else:
            candidates = list(dict.fromkeys(ids))
        for msg_id in candidates:
            cur = conn.execute(
                f"update notify_outbox set status = 'sending', claimed_by = ?, "  # noqa: S608
                f"claimed_at = ? where id = ? and (status in ({wanted}) or (status = "
                "'sending' and claimed_at < ?))", [who, stamp, msg_id, *statuses, stale])
            if cur.rowcount == 1:
                taken.append(msg_id)
    return [get(store, i) for i in taken]


def get(store: Store, msg_id: int) -> dict[str, Any]:
    row = store.db.conn.execute("select * from notify_outbox where id = ?",
                                [msg_id]).fetchone()
    if row is None:
        return {}
    names = [d[0] for d in store.db.conn.execute(
        "select * from notify_outbox limit 0").description]
    out = dict(zip(names, row, strict=True))
    out["attachments"] = json.loads(out["attachments"] or "[]")
    out["triggers"] = json.loads(out["triggers"] or "[]")
    return out


def mark_sent(store: Store, msg_id: int, attempts: int) -> None:
    at = now()
    with store.db.conn:
        store.db.conn.execute(
            "update notify_outbox set status = 'sent', sent_at = ?, last_attempt_at = ?, "
            "attempts = attempts + ?, rounds = rounds + 1, last_error = null, claimed_by = "
            "null, claimed_at = null where id = ? and status = 'sending'",
            [at, at, attempts, msg_id])


def mark_unsent(store: Store, msg_id: int, attempts: int, error: str,
                give_up_after: int) -> str:
    """Put a message back after a failed delivery: ``pending``, or ``failed`` once it has
    failed ``give_up_after`` rounds; return the new status."""
    at = now()
    with store.db.conn:
        store.db.conn.execute(
            "update notify_outbox set status = case when rounds + 1 >= ? then 'failed' "
            "else 'pending' end, last_attempt_at = ?, attempts = attempts + ?, rounds = "
            "rounds + 1, last_error = ?, claimed_by = null, claimed_at = null where id = ? "
            "and status = 'sending'", [give_up_after, at, attempts, error[:500], msg_id])
        row = store.db.conn.execute("select status from notify_outbox where id = ?",
                                    [msg_id]).fetchone()
    return str(row[0]) if row else "pending"


def messages(store: Store, statuses: tuple[str, ...] | None = None, limit: int = 50
             ) -> list[dict[str, Any]]:
    """The newest messages (all, or those in ``statuses``), newest first, without bodies."""
    where, args = "", []
    if statuses:
        where = f"where status in ({', '.join('?' * len(statuses))})"
        args = list(statuses)
    cur = store.db.conn.execute(
        "select id, created_at, kind, brand, sweep_id, service, title, status, attempts, "  # noqa: S608
        f"last_error, last_attempt_at, sent_at from notify_outbox {where} order by id desc "
        "limit ?", [*args, limit])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def counts(store: Store) -> dict[str, int]:
    return {s: n for s, n in store.db.conn.execute(
        "select status, count(*) from notify_outbox group by status")}


# -- what a digest reads -------------------------------------------------------------------

_CASE = ("select c.id, c.marketplace, c.listing_id, c.stage, c.score, c.status, "
         "c.relisted_from, l.title, l.url, l.price, l.currency, l.seller, "
         "(select i.thumbnail from listing_images li join images i on i.sha256 = li.sha256 "
         "where li.marketplace = c.marketplace and li.listing_id = c.listing_id and "
         "i.thumbnail is not null order by li.position limit 1) as thumbnail "
         "from cases c join listings l on l.marketplace = c.marketplace and "
         "l.listing_id = c.listing_id ")


def _cases(store: Store, where: str, args: list[Any]) -> list[dict[str, Any]]:
    if "listing_images" not in store.db.table_names():  # a store from before photos
        sql = _CASE.replace(
            _CASE[_CASE.index("(select i.thumbnail"):_CASE.index(" as thumbnail")], "null")
    else:
        sql = _CASE
    cur = store.db.conn.execute(sql + where, args)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def opened_by(store: Store, brand: str, sweep_id: int) -> list[dict[str, Any]]:
    """The cases sweep ``sweep_id`` opened for ``brand``, highest score first."""
    return _cases(store, "where c.brand = ? and c.sweep_id = ? order by c.score desc, c.id",
                  [brand, sweep_id])


def relisted_by(store: Store, brand: str, sweep_id: int) -> list[dict[str, Any]]:
    """The new cases sweep ``sweep_id`` linked to removed ones (``relisted_from`` set)."""
    return _cases(store, "where c.brand = ? and c.id in (select case_id from case_events "
                  "where sweep_id = ? and action = 'link') and c.relisted_from is not null "
                  "order by c.score desc, c.id", [brand, sweep_id])


def cases_by_id(store: Store, ids: list[int]) -> list[dict[str, Any]]:
    if not ids:
        return []
    return _cases(store, f"where c.id in ({', '.join('?' * len(ids))}) "
                  "order by c.score desc, c.id", list(ids))
