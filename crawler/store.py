"""The SQLite store: sweeps, listings (one row per marketplace + listing id) and
observations (what each sweep saw of each listing, so price and title history survive).

Schema changes are registered migrations, applied in order and recorded in
``_migrations``. WAL mode; every batch of writes is one transaction, so a killed process
leaves either all of a batch or none of it.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import sqlite3
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from crawler.exceptions import StoreUnusable
from crawler.items import Listing

Migration = Callable[[sqlite_utils.Database], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(name: str) -> Callable[[Migration], Migration]:
    def register(fn: Migration) -> Migration:
        MIGRATIONS.append((name, fn))
        return fn
    return register


def now() -> str:
    """UTC, ISO 8601 with seconds: what every timestamp in the store looks like."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@migration("0001_sweeps_listings_observations")
def _initial(db: sqlite_utils.Database) -> None:
    db.table("sweeps").create({
        "id": int, "kind": str, "brand": str, "campaign": str, "marketplaces": str,
        "keywords": str, "max_pages": int, "started": str, "finished": str, "status": str,
        "stats": str, "pid": int, "host": str,
    }, pk="id", not_null={"kind", "started", "status"})
    db.table("listings").create({
        "marketplace": str, "listing_id": str, "url": str, "title": str, "description": str,
        "price": str, "price_high": str, "currency": str, "seller": str, "seller_id": str,
        "seller_url": str, "seller_location": str, "ships_from": str, "condition": str,
        "image_urls": str, "units_sold": int, "moq": int, "keywords": str, "campaigns": str,
        "render_mode": str, "first_seen": str, "last_seen": str, "first_sweep": int,
        "last_sweep": int,
    }, pk=("marketplace", "listing_id"), not_null={"url", "title", "first_seen"})
    db.table("observations").create({
        "sweep_id": int, "marketplace": str, "listing_id": str, "seen_at": str, "url": str,
        "title": str, "price": str, "price_high": str, "currency": str, "seller": str,
        "keywords": str, "render_mode": str,
    }, pk=("sweep_id", "marketplace", "listing_id"),
        foreign_keys=[("sweep_id", "sweeps", "id")])
    db.table("observations").create_index(["marketplace", "listing_id"])
    db.table("listings").enable_fts(["title", "description"], create_triggers=True,
                              tokenize="unicode61 remove_diacritics 2")


@migration("0002_fts_only_on_text_changes")
def _fts_on_text_changes(db: sqlite_utils.Database) -> None:
    # every sweep touches last_seen on every listing; re-indexing the text each time
    # was most of the cost of storing a page
    db.execute("drop trigger if exists listings_au")
    db.execute("""
        create trigger listings_au after update of title, description on listings begin
          insert into listings_fts (listings_fts, rowid, title, description)
            values ('delete', old.rowid, old.title, old.description);
          insert into listings_fts (rowid, title, description)
            values (new.rowid, new.title, new.description);
        end""")


@migration("0003_evaluations")
def _evaluations(db: sqlite_utils.Database) -> None:
    # the current verdict of a brand's rule set on each listing; `version` is the rule
    # set's content hash, `matches` the matched rules with their selections' text spans
    db.table("evaluations").create({
        "brand": str, "marketplace": str, "listing_id": str, "version": str, "score": int,
        "stage": str, "matches": str, "evaluated_at": str, "sweep_id": int,
    }, pk=("brand", "marketplace", "listing_id"), not_null={"version", "score"})
    db.table("evaluations").create_index(["brand", "stage"])


@migration("0004_cases_events_evidence_notices")
def _cases(db: sqlite_utils.Database) -> None:
    # a case is a staged listing on its way to a notice; `case_events` is the audit trail
    # (append-only: nothing in these tables is ever deleted)
    db.table("cases").create({
        "id": int, "brand": str, "marketplace": str, "listing_id": str, "stage": str,
        "score": int, "status": str, "opened_at": str, "updated_at": str, "sweep_id": int,
        "relisted_from": int,
    }, pk="id", not_null={"brand", "marketplace", "listing_id", "status", "opened_at"})
    db.table("cases").create_index(["brand", "marketplace", "listing_id"], unique=True)
    db.table("cases").create_index(["brand", "status"])
    db.table("case_events").create({
        "id": int, "case_id": int, "at": str, "by": str, "action": str, "from_status": str,
        "to_status": str, "reason": str, "sweep_id": int,
    }, pk="id", not_null={"case_id", "at", "by", "action"},
        foreign_keys=[("case_id", "cases", "id")])
    db.table("case_events").create_index(["case_id"])
    db.table("evidence").create({
        "case_id": int, "url": str, "captured_at": str, "http_status": int,
        "screenshot": str, "screenshot_sha256": str, "html": str, "html_sha256": str,
        "image_url": str, "image_sha256": str, "title": str, "price": str, "currency": str,
    }, pk="case_id", not_null={"url", "captured_at", "screenshot", "screenshot_sha256",
                               "html", "html_sha256"},
        foreign_keys=[("case_id", "cases", "id")])
    db.table("evidence").create_index(["image_sha256"])
    db.table("notices").create({
        "id": int, "brand": str, "program": str, "marketplace": str, "seller": str,
        "ip_type": str, "status": str, "created_at": str, "created_by": str,
        "submitted_at": str, "submitted_by": str, "sweep_id": int, "part": int, "parts": int,
        "sender": str, "rights": str, "recipient": str, "ruleset_version": str,
    }, pk="id", not_null={"brand", "program", "marketplace", "status", "created_at",
                          "sender"})
    db.table("notice_items").create({
        "notice_id": int, "case_id": int, "position": int, "brand": str, "program": str,
        "marketplace": str, "listing_id": str, "url": str, "title": str, "price": str,
        "currency": str, "seller": str, "reason_code": str, "reason": str, "rules": str,
        "evidence": str,
    }, pk=("notice_id", "case_id"), foreign_keys=[("notice_id", "notices", "id"),
                                                  ("case_id", "cases", "id")])
    # a listing is in at most one notice per program: drafting twice adds nothing
    db.table("notice_items").create_index(["brand", "program", "marketplace", "listing_id"],
                                          unique=True)


@migration("0005_sweep_progress")
def _progress(db: sqlite_utils.Database) -> None:
    # a checkpoint per marketplace, written once its crawler has stored everything, so a
    # sweep killed midway is resumed with only the marketplaces it had not finished
    db.table("sweep_progress").create({
        "sweep_id": int, "marketplace": str, "done_at": str, "status": str,
    }, pk=("sweep_id", "marketplace"), foreign_keys=[("sweep_id", "sweeps", "id")])
    db.table("sweeps").add_column("resumes", int)


@migration("0006_images")
def _images(db: sqlite_utils.Database) -> None:
    # photos stored once by content (the file is IMAGES_DIR/<sha256>.<ext>), their
    # perceptual hashes as signed 64-bit ints (crawler.images.hashing), which listing shows
    # which photo, and per-brand facts the rules read (crawler.images.facts)
    db.table("images").create({
        "sha256": str, "url": str, "content_type": str, "width": int, "height": int,
        "bytes": int, "file": str, "thumbnail": str, "fetched_at": str,
    }, pk="sha256", not_null={"url", "file", "fetched_at"})
    db.table("image_hashes").create({
        "sha256": str, "view": str, "algorithm": str, "value": int,
    }, pk=("sha256", "view", "algorithm"), foreign_keys=[("sha256", "images", "sha256")])
    db.table("listing_images").create({
        "marketplace": str, "listing_id": str, "position": int, "url": str, "sha256": str,
        "status": str, "fetched_at": str,
    }, pk=("marketplace", "listing_id", "position"), not_null={"url", "status"})
    db.table("listing_images").create_index(["sha256"])
    db.table("listing_images").create_index(["url"])
    db.table("listing_facts").create({
        "brand": str, "marketplace": str, "listing_id": str, "facts": str, "computed_at": str,
    }, pk=("brand", "marketplace", "listing_id"), not_null={"facts"})


@migration("0007_seller_networks")
def _seller_networks(db: sqlite_utils.Database) -> None:
    # which seller accounts one operator runs, per brand (crawler.networks)
    db.table("seller_networks").create({
        "brand": str, "marketplace": str, "seller": str, "network": str, "size": int,
        "reasons": str, "updated_at": str,
    }, pk=("brand", "marketplace", "seller"), not_null={"network"})
    db.table("seller_networks").create_index(["brand", "network"])


@migration("0008_storefront_notices")
def _storefront_notices(db: sqlite_utils.Database) -> None:
    # a complaint about a whole storefront (a seller, or the accounts of a seller network
    # on one marketplace), citing its listings; once per storefront and program
    db.table("storefront_notices").create({
        "id": int, "brand": str, "program": str, "marketplace": str, "storefront": str,
        "sellers": str, "listings": str, "cases": int, "status": str, "created_at": str,
        "created_by": str, "sweep_id": int, "sender": str, "rights": str, "recipient": str,
        "ruleset_version": str,
    }, pk="id", not_null={"brand", "program", "marketplace", "storefront", "status",
                          "created_at", "sender"})
    db.table("storefront_notices").create_index(
        ["brand", "program", "marketplace", "storefront"], unique=True)


@migration("0009_workbench_indexes")
def _workbench_indexes(db: sqlite_utils.Database) -> None:
    # the workbench's queue: a status's cases by score (ties oldest first) and counted
    # per stage; a seller's other cases, a relisting and a case's notices on every case
    # page (bench/review_ui.py measures them)
    db.execute("create index if not exists idx_cases_queue on cases (status, score desc, id)")
    db.table("cases").create_index(["status", "stage"], if_not_exists=True)
    db.table("cases").create_index(["relisted_from"], if_not_exists=True)
    db.table("listings").create_index(["seller"], if_not_exists=True)
    db.table("notice_items").create_index(["case_id"], if_not_exists=True)


# -- a store that cannot be used (begin) ----------------------------------------------------

_SQLITE_MAGIC = b"SQLite format 3\x00"
_T = TypeVar("_T")


def check_path(path: Path) -> None:
    """Raise ``StoreUnusable`` when ``path`` cannot be a store: a folder, in a missing or
    unwritable folder, read-only, or a file that is not SQLite (an empty file is fine:
    SQLite makes it a database)."""
    folder = path.parent if str(path.parent) else Path(".")
    if str(path) in ("", "."):
        raise StoreUnusable("--db is empty: name the store's file, e.g. brandsweep.db")
    if any(c in str(path) for c in "\n\r\0"):
        raise StoreUnusable(f"{str(path)!r}: a store path may not hold a line break or NUL; "
                            "pass another --db")
    try:
        info = path.stat()
    except FileNotFoundError:
        info = None
    except OSError as exc:  # a name too long, a symlink loop, a folder we cannot enter
        raise StoreUnusable(f"{path}: {exc.strerror}; pass another --db") from exc
    if info is not None and not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
        raise StoreUnusable(f"{path}: is not a regular file (a FIFO or device?); --db names "
                            "the store's file")
    if path.is_dir():
        raise StoreUnusable(f"{path}: is a folder; --db names the store's file, e.g. "
                            f"{path / 'brandsweep.db'}")
    if not folder.is_dir():
        raise StoreUnusable(f"{path}: the folder {folder} does not exist; create it or "
                            "pass another --db")
    try:  # a real write, not os.access: root passes that test on any folder
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise StoreUnusable(f"{path}: cannot write in the folder {folder} (SQLite keeps "
                            "its journal next to the store); pass --db in a folder you "
                            f"can write ({exc.strerror})") from exc
    if not path.exists():
        return
    try:
        with open(path, "rb") as f:
            head = f.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise StoreUnusable(f"{path}: cannot read the store: {exc.strerror}; check its "
                            "permissions or pass another --db") from exc
    if head and head != _SQLITE_MAGIC:
        raise StoreUnusable(f"{path}: is not a SQLite database (brandsweep's store); "
                            "pass --db naming a store or a new file")
    if not os.access(path, os.W_OK):
        raise StoreUnusable(f"{path}: the store is read-only; make it writable (chmod u+w) "
                            "or pass another --db")


def _unusable(path: object, exc: sqlite3.Error) -> StoreUnusable:
    """Our own error for what SQLite says about a store it cannot use."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        what = ("is locked by another process (a sweep still running?); wait for it to "
                "finish or pass another --db")
    elif "readonly" in text or "read-only" in text:
        what = "the store is read-only; make it and its folder writable or pass another --db"
    elif "not a database" in text or "malformed" in text:
        what = ("is not a SQLite database, or is damaged; pass --db naming a store or a "
                "new file")
    elif "unable to open" in text:
        what = "SQLite cannot open it; check that it is a file in a folder you can write"
    else:
        what = f"SQLite cannot use it ({text}); check the file or pass another --db"
    return StoreUnusable(f"{path}: {what}")


def _store_errors(method: Callable[..., _T]) -> Callable[..., _T]:
    """SQLite errors while opening or migrating the store become ``StoreUnusable``."""
    @functools.wraps(method)
    def wrapper(self: Store, *args: Any, **kwargs: Any) -> _T:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise _unusable(getattr(self, "path", args[0] if args else "--db"), exc) from exc
    return wrapper

# -- a store that cannot be used (end) ------------------------------------------------------


class Store:
    """One SQLite file. Open it, ``migrate()``, then record sweeps and listings."""

    @_store_errors
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        check_path(self.path)  # our own one-line error before SQLite's
        if self.path.parent.is_dir():
            from crawler.files import create_file

            # our mode, not the umask's; SQLite gives -wal and -shm the file's own mode
            create_file(self.path)
        self.db = sqlite_utils.Database(self.path)
        self.db.execute("PRAGMA busy_timeout = 30000")
        self.db.enable_wal()
        self.db.execute("PRAGMA synchronous = NORMAL")  # WAL makes NORMAL crash-safe

    @_store_errors
    def migrate(self) -> list[str]:
        """Apply migrations not yet recorded; return the names applied."""
        applied = set()
        if "_migrations" in self.db.table_names():
            applied = {r["name"] for r in self.db.table("_migrations").rows}
        done = []
        for name, fn in MIGRATIONS:
            if name in applied:
                continue
            with self.db.conn:
                fn(self.db)
                self.db.table("_migrations").insert({"name": name, "applied": now()}, pk="name")
            done.append(name)
        return done

    # -- sweeps ---------------------------------------------------------------------------

    @_store_errors  # the first write of a sweep: a locked store is our own one-line error
    def start_sweep(self, *, kind: str, brand: str | None, campaign: str | None,
                    marketplaces: list[str], keywords: list[str], max_pages: int,
                    resumes: int | None = None) -> int:
        """Record a running sweep; first marks any sweep whose process died ``interrupted``."""
        self.mark_interrupted()
        with self.db.conn:
            table = self.db.table("sweeps").insert({
                "kind": kind, "brand": brand, "campaign": campaign,
                "marketplaces": json.dumps(marketplaces), "keywords": json.dumps(keywords),
                "max_pages": max_pages, "started": now(), "status": "running",
                "pid": os.getpid(), "host": socket.gethostname(), "resumes": resumes,
            })
        assert table.last_pk is not None
        return int(table.last_pk)

    def finish_sweep(self, sweep_id: int, status: str, stats: dict[str, Any]) -> None:
        with self.db.conn:
            self.db.table("sweeps").update(sweep_id, {"finished": now(), "status": status,
                                                "stats": json.dumps(stats, sort_keys=True)})

    def mark_interrupted(self) -> int:
        """Sweeps left ``running`` by a process that no longer exists become ``interrupted``."""
        host = socket.gethostname()
        stale = [r["id"] for r in self.db.query(
            "select id, pid, host from sweeps where status = 'running'")
            if r["host"] == host and not _alive(r["pid"])]
        with self.db.conn:
            for sweep_id in stale:
                self.db.table("sweeps").update(sweep_id, {"status": "interrupted",
                                                    "finished": now()})
        return len(stale)

    def mark_done(self, sweep_id: int, marketplace: str, status: str) -> None:
        """Checkpoint: this marketplace of this sweep is complete and stored."""
        with self.db.conn:
            self.db.conn.execute(
                "insert or replace into sweep_progress (sweep_id, marketplace, done_at, "
                "status) values (?, ?, ?, ?)", [sweep_id, marketplace, now(), status])

    def resumable(self, kind: str, brand: str | None, marketplaces: list[str],
                  keywords: list[str], max_pages: int) -> tuple[int, set[str]] | None:
        """The last sweep of this very plan, if it was interrupted: its id and the
        marketplaces it (or the sweeps it resumed) finished."""
        rows = list(self.db.query(
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
            done |= {r["marketplace"] for r in self.db.query(
                "select marketplace from sweep_progress where sweep_id = ?", [sweep_id])}
            row = self.db.table("sweeps").get(sweep_id)
            sweep_id = row["resumes"] if row["status"] == "interrupted" else None
        return last["id"], done

    def sweep(self, sweep_id: int) -> dict[str, Any]:
        row: dict[str, Any] = self.db.table("sweeps").get(sweep_id)
        return row

    # -- listings -------------------------------------------------------------------------

    def save(self, sweep_id: int, listings: Iterable[Listing], campaign: str | None = None
             ) -> int:
        """Upsert listings and their observations in one transaction; return how many were
        new to the store. The same listing found by another keyword gains that keyword."""
        batch: dict[tuple[str, str], Listing] = {}
        found_by: dict[tuple[str, str], set[str]] = {}
        for item in listings:
            key = (item.marketplace, item.listing_id)
            if key in batch and item.description is None:
                item.description = batch[key].description
            batch[key] = item  # the latest sighting wins, keywords accumulate
            found_by.setdefault(key, set()).add(item.keyword)
        if not batch:
            return 0
        seen_at = now()
        conn = self.db.conn
        with conn:
            old = self._existing("listings", "keywords, campaigns", list(batch))
            old_obs = self._existing("observations", "keywords", list(batch), sweep_id)
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
        return len(batch) - len(old)

    def _existing(self, table: str, columns: str, keys: list[tuple[str, str]],
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
            for row in self.db.query(sql, params):
                out[(row["marketplace"], row["listing_id"])] = row
        return out

    def _get(self, table: str, pk: tuple[Any, ...]) -> dict[str, Any] | None:
        try:
            row: dict[str, Any] = self.db.table(table).get(pk)
        except sqlite_utils.db.NotFoundError:
            return None
        return row

    # -- evaluations ----------------------------------------------------------------------

    def listings_for(self, keywords: list[str], keys: list[tuple[str, str]] | None = None,
                     brand: str | None = None, shard: tuple[int, int] = (0, 1)
                     ) -> Iterator[dict[str, Any]]:
        """Listings found by any of ``keywords`` (or exactly ``keys``), each with the
        stored evaluation of ``brand`` as ``_version``, ``_stage``, ``_score``, ``_matches``."""
        folded = [" ".join(k.casefold().split()) for k in keywords]
        params: list[Any] = [brand or ""]
        where = ("exists (select 1 from json_each(l.keywords) where lower(value) in "  # noqa: S608
                 f"({', '.join('?' * len(folded))}))")
        params += folded
        if keys is not None:
            values = ", ".join(["(?, ?)"] * len(keys)) or "(null, null)"
            where = f"(l.marketplace, l.listing_id) in (values {values})"
            params = [brand or "", *[v for k in keys for v in k]]
        if shard[1] > 1:  # (k, n): the k-th of n disjoint parts, for parallel workers
            where = f"({where}) and l.rowid % ? = ?"
            params += [shard[1], shard[0]]
        # only constant SQL is formatted in; every value is bound
        # `_facts`: what crawler.images.facts and crawler.networks found (JSON), for the
        # rules' image and seller selections
        sql = ("select l.*, e.version as _version, e.stage as _stage, e.score as _score, "  # noqa: S608
               "e.matches as _matches, f.facts as _facts from listings l left join "
               "evaluations e on e.brand = ?1 and e.marketplace = l.marketplace and "
               "e.listing_id = l.listing_id left join listing_facts f on f.brand = ?1 and "
               "f.marketplace = l.marketplace and f.listing_id = l.listing_id "
               f"where {where} order by l.marketplace, l.listing_id")
        cursor = self.db.conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        while rows := cursor.fetchmany(2000):
            for row in rows:
                yield dict(zip(names, row, strict=True))

    def save_evaluations(self, brand: str, rows: Iterable[tuple[str, str, str, int,
                                                                 str | None, str]],
                         sweep_id: int | None = None) -> int:
        """Store (marketplace, listing_id, version, score, stage, matches JSON) rows in one
        transaction, replacing the brand's previous verdicts; return how many."""
        at = now()
        data = [(brand, m, lid, version, score, stage, matches, at, sweep_id)
                for m, lid, version, score, stage, matches in rows]
        with self.db.conn:
            self.db.conn.executemany(
                "insert into evaluations (brand, marketplace, listing_id, version, score, "
                "stage, matches, evaluated_at, sweep_id) values (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "on conflict (brand, marketplace, listing_id) do update set "
                "version = excluded.version, score = excluded.score, stage = excluded.stage, "
                "matches = excluded.matches, evaluated_at = excluded.evaluated_at, "
                "sweep_id = coalesce(excluded.sweep_id, evaluations.sweep_id)", data)
        return len(data)

    def stage_counts(self, brand: str, sweep_id: int | None = None) -> dict[str, int]:
        """Listings per stage for ``brand`` (only those seen by ``sweep_id`` if given)."""
        sql = ("select e.stage, count(*) as n from evaluations e where e.brand = ? and "
               "e.stage is not null")
        params: list[Any] = [brand]
        if sweep_id is not None:
            sql += (" and exists (select 1 from observations o where o.sweep_id = ? and "
                    "o.marketplace = e.marketplace and o.listing_id = e.listing_id)")
            params.append(sweep_id)
        return {r["stage"]: r["n"] for r in self.db.query(sql + " group by e.stage", params)}

    # -- images ---------------------------------------------------------------------------

    def has_images(self, marketplace: str, listing_id: str) -> bool:
        """Whether this listing's photos were fetched (or tried) before."""
        return self.db.conn.execute(
            "select 1 from listing_images where marketplace = ? and listing_id = ? limit 1",
            [marketplace, listing_id]).fetchone() is not None

    def image_for_url(self, url: str) -> str | None:
        """The content hash of the photo last fetched from ``url``, if any."""
        row = self.db.conn.execute(
            "select sha256 from listing_images where url = ? and sha256 is not null "
            "order by fetched_at desc limit 1", [url]).fetchone()
        return str(row[0]) if row else None

    def save_image(self, image: dict[str, Any], hashes: list[tuple[str, str, int]]) -> None:
        """Record a stored photo (an ``images`` row) and its hash rows, once per content."""
        with self.db.conn:
            self.db.conn.execute(
                "insert or ignore into images (sha256, url, content_type, width, height, "
                "bytes, file, thumbnail, fetched_at) values (:sha256, :url, :content_type, "
                ":width, :height, :bytes, :file, :thumbnail, :fetched_at)",
                {**image, "fetched_at": image.get("fetched_at") or now()})
            self.db.conn.executemany(
                "insert or ignore into image_hashes (sha256, view, algorithm, value) "
                "values (?, ?, ?, ?)", [(image["sha256"], *h) for h in hashes])

    def link_image(self, marketplace: str, listing_id: str, position: int, url: str,
                   sha256: str | None, status: str) -> None:
        """Which photo a listing shows at ``position`` (``status`` ok, or why not)."""
        with self.db.conn:
            self.db.conn.execute(
                "insert or replace into listing_images (marketplace, listing_id, position, "
                "url, sha256, status, fetched_at) values (?, ?, ?, ?, ?, ?, ?)",
                [marketplace, listing_id, position, url, sha256, status, now()])

    def image_hash_rows(self) -> Iterator[tuple[str, str, str, int]]:
        """Every stored (sha256, view, algorithm, value) hash row, by photo."""
        yield from self.db.conn.execute(
            "select sha256, view, algorithm, value from image_hashes order by sha256")

    def listing_photos(self) -> Iterator[tuple[str, str, str, str | None, str]]:
        """(marketplace, listing_id, sha256, seller, title) of every fetched photo."""
        yield from self.db.conn.execute(
            "select li.marketplace, li.listing_id, li.sha256, l.seller, l.title "
            "from listing_images li join listings l on l.marketplace = li.marketplace and "
            "l.listing_id = li.listing_id where li.sha256 is not null "
            "order by li.marketplace, li.listing_id, li.position")

    def save_facts(self, brand: str, facts: dict[tuple[str, str], str]) -> None:
        """Replace ``brand``'s per-listing facts ((marketplace, listing_id) -> JSON)."""
        at = now()
        with self.db.conn:
            self.db.conn.execute("delete from listing_facts where brand = ?", [brand])
            self.db.conn.executemany(
                "insert into listing_facts (brand, marketplace, listing_id, facts, "
                "computed_at) values (?, ?, ?, ?, ?)",
                [(brand, m, lid, f, at) for (m, lid), f in facts.items()])

    def search(self, text: str, limit: int = 20) -> list[dict[str, Any]]:
        """Full-text search over listing titles and descriptions."""
        return list(self.db.table("listings").search(text, limit=limit))

    # -- reading for the workbench and `brandsweep listings` ------------------------------

    def case_queue(self, *, brand: str | None = None, marketplace: str | None = None,
                   stage: str | None = None, status: str | None = "open",
                   seller: str | None = None, limit: int = 200, offset: int = 0
                   ) -> list[dict[str, Any]]:
        """Cases with their listing's title, price and seller, highest score first
        (``status=None``: every status)."""
        where, params = _case_filters(brand, marketplace, stage, status, seller)
        # only constant SQL is formatted in; every value is bound
        sql = ("select c.id, c.brand, c.marketplace, c.listing_id, c.stage, c.score, "  # noqa: S608
               "c.status, c.opened_at, c.relisted_from, l.title, l.price, l.currency, "
               "l.seller, l.url from cases c join listings l on l.marketplace = "
               f"c.marketplace and l.listing_id = c.listing_id where {where} "
               "order by c.score desc, c.id limit ? offset ?")
        return list(self.db.query(sql, [*params, limit, offset]))

    def case_counts(self, *, brand: str | None = None, marketplace: str | None = None,
                    stage: str | None = None, status: str | None = "open",
                    seller: str | None = None) -> dict[str, int]:
        """How many cases the same filters select, per stage (``-`` for none)."""
        where, params = _case_filters(brand, marketplace, stage, status, seller)
        join = ("join listings l on l.marketplace = c.marketplace and l.listing_id = "
                "c.listing_id " if seller is not None else "")
        sql = (f"select coalesce(c.stage, '-') as stage, count(*) as n from cases c {join}"  # noqa: S608
               f"where {where} group by c.stage order by c.stage")
        return {r["stage"]: r["n"] for r in self.db.query(sql, params)}

    def case_facets(self) -> dict[str, list[str]]:
        """The brands, marketplaces and stages the cases have, for filter menus."""
        return {column: [r[0] for r in self.db.conn.execute(
            f"select distinct {column} from cases where {column} is not null "  # noqa: S608
            f"order by {column}")] for column in ("brand", "marketplace", "stage")}

    def listings_with_verdicts(self, *, brand: str | None = None,
                               marketplace: str | None = None, stage: str | None = None,
                               unstaged: bool = False, search: str | None = None,
                               limit: int | None = None, offset: int = 0
                               ) -> list[dict[str, Any]]:
        """Every stored listing (one row per brand that judged it) with its verdict, its
        case if it has one, and its seller; ``search`` is full text over title and
        description, each word as typed (no query syntax)."""
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
        source, order = "listings l", "l.marketplace, l.listing_id, e.brand"
        if search is not None and search.split():
            # driven by the full-text index, best matches first
            source = "listings_fts f join listings l on l.rowid = f.rowid"
            order = "f.rank, l.marketplace, l.listing_id, e.brand"
            where.append("listings_fts match ?")
            params.append(fts_words(search))
        # only constant SQL is formatted in; every value is bound
        sql = ("select l.marketplace, l.listing_id, l.title, l.price, l.currency, l.seller, "  # noqa: S608
               "l.url, l.last_seen, e.brand, e.stage, e.score, c.id as case_id, "
               f"c.status as case_status from {source} left join evaluations e on "
               f"e.marketplace = l.marketplace and e.listing_id = l.listing_id{join_brand} "
               "left join cases c on c.brand = e.brand and c.marketplace = l.marketplace "
               f"and c.listing_id = l.listing_id where {' and '.join(where)} "
               f"order by {order}")
        if limit is not None:
            sql += " limit ? offset ?"
            params += [limit, offset]
        return list(self.db.query(sql, params))


def fts_words(text: str) -> str:
    """An FTS5 query matching every word of ``text`` as written: each word quoted, so
    quotes, ``*`` or ``OR`` typed by a user are searched for, not run as syntax."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in text.split())


def _case_filters(brand: str | None, marketplace: str | None, stage: str | None,
                  status: str | None, seller: str | None) -> tuple[str, list[Any]]:
    where: list[str] = ["1 = 1"]
    params: list[Any] = []
    for column, value in (("c.brand", brand), ("c.marketplace", marketplace),
                          ("c.stage", stage), ("c.status", status), ("l.seller", seller)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    return " and ".join(where), params


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


# the monitor's migration and queries live in a module of their own; importing it here
# registers its migration with every store
from crawler import store_monitor as _store_monitor  # noqa: E402, F401
