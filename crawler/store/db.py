"""The store's connection: refusing a path that cannot be a store (one line, before SQLite
says anything), SQLite's own errors as ours, the pragmas every store runs with, and the
one ``transaction()`` every write goes through."""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import stat
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from crawler.exceptions import StoreUnusable

_SQLITE_MAGIC = b"SQLite format 3\x00"
_T = TypeVar("_T")
_R = TypeVar("_R", bound=tuple[Any, ...])  # a row of the caller's own shape


def now() -> str:
    """UTC, ISO 8601 with seconds: what every timestamp in the store looks like."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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


def unusable(path: object, exc: sqlite3.Error) -> StoreUnusable:
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


def store_errors(method: Callable[..., _T]) -> Callable[..., _T]:
    """SQLite errors while opening or migrating the store become ``StoreUnusable``."""
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> _T:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise unusable(getattr(self, "path", args[0] if args else "--db"), exc) from exc
    return wrapper


# the page cache of a command that reads a big store (Connection's cache_mib)
READING_CACHE_MIB = 64
# and the bytes of the store such a connection maps into memory: its page reads are then
# page faults on the OS's cache, not a read() each (a report of a million-listing store
# read ~100,000 pages: a fifth of its CPU time was in the kernel); SQLite caps it at its
# compile-time limit (2 GiB by default), and the file beyond is read as before
READING_MMAP_MIB = 4096


class Connection:
    """One open store file: ``path``, the ``db`` (sqlite_utils) and ``transaction()``.
    Every function of the table modules takes one (a ``Store`` is one)."""

    @store_errors
    def __init__(self, path: Path | str, cache_mib: int = 2) -> None:
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
        # SQLite's default page cache is 2 MiB, what a sweep's connections keep (their
        # memory must stay flat as the store grows); a command reading a big store (report,
        # review, listings, backtest, the workbench) asks for more: its lookups keep
        # revisiting the upper levels of indexes over a million rows (taken only as pages
        # are read)
        self.db.execute(f"PRAGMA cache_size = {-1024 * max(1, int(cache_mib))}")
        if cache_mib >= READING_CACHE_MIB:
            # mapped pages count in the process's RSS (they are the OS's file cache, shared
            # and dropped under memory pressure), so a sweep's connections do not map
            self.db.execute(f"PRAGMA mmap_size = {READING_MMAP_MIB << 20}")
        self._depth = 0

    @property
    def conn(self) -> sqlite3.Connection:
        """The sqlite3 connection, for the table modules."""
        return self.db.conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All writes inside are committed together at the end, or rolled back together
        if anything raises. A ``transaction()`` inside another one joins it: nothing is
        committed before the outermost ends, and an exception that leaves the outermost
        rolls back everything of it (one a caller catches inside does not)."""
        if self._depth:
            self._depth += 1
            try:
                yield self.db.conn
            finally:
                self._depth -= 1
            return
        self._depth = 1
        try:
            with self.db.conn:  # commit on success, roll back on an exception
                yield self.db.conn
        finally:
            self._depth = 0


def where_equal(alias: str, filters: dict[str, Any]) -> tuple[str, list[Any]]:
    """`` where`` clauses for the filters given (a None value: no filter) on table
    ``alias``, and their parameters; the column names are ours, never a user's."""
    given = {column: value for column, value in filters.items() if value is not None}
    clauses = [f"{alias}.{column} = ?" for column in given]
    return (" where " + " and ".join(clauses)) if clauses else "", list(given.values())


def one_row(store: Connection, sql: str, params: list[Any]) -> dict[str, Any] | None:
    """The first row ``sql`` gives, as a dict, or None."""
    rows = list(store.db.query(sql, params))
    return dict(rows[0]) if rows else None


def replace_brand_rows(store: Connection, table: str, columns: tuple[str, ...], brand: str,
                       rows: list[_R]) -> list[_R]:
    """Replace every row of ``brand`` in ``table`` (a table the store derives anew each
    sweep, first column ``brand``) with ``rows``, in one transaction; return them."""
    marks = ", ".join("?" * len(columns))
    with store.transaction() as conn:
        conn.execute(f"delete from {table} where brand = ?", [brand])  # noqa: S608 (ours)
        conn.executemany(f"insert into {table} ({', '.join(columns)}) values ({marks})",  # noqa: S608
                         rows)
    return rows


def checkpoint(path: Path) -> None:
    """Fold what the write-ahead log at ``path`` holds into the file (immutable readers
    such as Datasette's skip the WAL)."""
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA wal_checkpoint(PASSIVE)")
    finally:
        con.close()


def read_only_value(path: Path, sql: str, params: list[Any]) -> Any:
    """The first column of the first row of ``sql`` on the store at ``path``, opened
    read-only (None when there is no row), for readers that must never write to it."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = con.execute(sql, params).fetchone()
    finally:
        con.close()
    return row[0] if row else None
