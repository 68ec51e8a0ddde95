"""Sweeps: one row per run (what it was asked, when, how it ended) and the per-marketplace
checkpoints a killed sweep resumes from."""

from __future__ import annotations

import json
import os
import socket
from typing import Any

from crawler.store.db import Connection, now, store_errors


@store_errors  # the first write of a sweep: a locked store is our own one-line error
def start(store: Connection, *, kind: str, brand: str | None, campaign: str | None,
          marketplaces: list[str], keywords: list[str], max_pages: int,
          resumes: int | None = None) -> int:
    """Record a running sweep; first marks any sweep whose process died ``interrupted``."""
    mark_interrupted(store)
    with store.db.conn:
        table = store.db.table("sweeps").insert({
            "kind": kind, "brand": brand, "campaign": campaign,
            "marketplaces": json.dumps(marketplaces), "keywords": json.dumps(keywords),
            "max_pages": max_pages, "started": now(), "status": "running",
            "pid": os.getpid(), "host": socket.gethostname(), "resumes": resumes,
        })
    assert table.last_pk is not None
    return int(table.last_pk)


def finish(store: Connection, sweep_id: int, status: str, stats: dict[str, Any]
           ) -> dict[str, Any]:
    """Record how the sweep ended; return the columns written."""
    row = {"finished": now(), "status": status, "stats": json.dumps(stats, sort_keys=True)}
    with store.db.conn:
        store.db.table("sweeps").update(sweep_id, row)
    return row


def mark_interrupted(store: Connection) -> int:
    """Sweeps left ``running`` by a process that no longer exists become ``interrupted``."""
    host = socket.gethostname()
    stale = [r["id"] for r in store.db.query(
        "select id, pid, host from sweeps where status = 'running'")
        if r["host"] == host and not _alive(r["pid"])]
    with store.db.conn:
        for sweep_id in stale:
            store.db.table("sweeps").update(sweep_id, {"status": "interrupted",
                                                        "finished": now()})
    return len(stale)


def mark_done(store: Connection, sweep_id: int, marketplace: str, status: str
              ) -> dict[str, Any]:
    """Checkpoint: this marketplace of this sweep is complete and stored; return the row."""
    row = {"sweep_id": sweep_id, "marketplace": marketplace, "done_at": now(),
           "status": status}
    with store.transaction() as conn:
        conn.execute("insert or replace into sweep_progress (sweep_id, marketplace, done_at, "
                     "status) values (:sweep_id, :marketplace, :done_at, :status)", row)
    return row


def resumable(store: Connection, kind: str, brand: str | None, marketplaces: list[str],
              keywords: list[str], max_pages: int) -> tuple[int, set[str]] | None:
    """The last sweep of this very plan, if it was interrupted: its id and the
    marketplaces it (or the sweeps it resumed) finished."""
    rows = list(store.db.query(
        "select id, status, marketplaces, keywords, max_pages from sweeps where kind = ? "
        "and brand is ? order by id desc limit 1", [kind, brand]))
    if not rows or rows[0]["status"] != "interrupted":
        return None
    last = rows[0]
    if (json.loads(last["marketplaces"]) != marketplaces or json.loads(last["keywords"])
            != keywords or last["max_pages"] != max_pages):
        return None
    done: set[str] = set()
    sweep_id: int | None = last["id"]
    while sweep_id is not None:  # a resumed sweep may itself have been resumed
        done |= {r["marketplace"] for r in store.db.query(
            "select marketplace from sweep_progress where sweep_id = ?", [sweep_id])}
        row = store.db.table("sweeps").get(sweep_id)
        sweep_id = row["resumes"] if row["status"] == "interrupted" else None
    return last["id"], done


def get(store: Connection, sweep_id: int) -> dict[str, Any]:
    """The sweep's row; raises sqlite_utils' ``NotFoundError`` if there is none."""
    row: dict[str, Any] = store.db.table("sweeps").get(sweep_id)
    return row


def find(store: Connection, sweep_id: int) -> dict[str, Any] | None:
    """The sweep's row, or None."""
    rows = list(store.db.query("select * from sweeps where id = ?", [sweep_id]))
    return dict(rows[0]) if rows else None


def running(store: Connection) -> set[int]:
    """Ids of the sweeps marked running."""
    return {int(r["id"]) for r in store.db.query(
        "select id from sweeps where status = 'running'")}


def last_finished(store: Connection) -> int | None:
    """The id of the latest sweep that finished, if any."""
    row = store.conn.execute("select max(id) from sweeps where finished is not null"
                             ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def finished_before(store: Connection, brand: str | None, upto: int, limit: int
                    ) -> list[int]:
    """The ids of the brand's last ``limit`` finished sweeps up to ``upto``, oldest first."""
    return [r[0] for r in store.conn.execute(
        "select id from sweeps where brand is ? and id <= ? and finished is not null "
        "order by id desc limit ?", [brand, upto, limit])][::-1]


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
