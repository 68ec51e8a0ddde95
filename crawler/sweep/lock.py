"""One sweep per brand at a time: an OS file lock beside the store.

The lock is ``flock`` through ``filelock``, so the kernel drops it when its process dies,
however it dies: a lock left by a killed sweep never blocks the next one. Beside it, a
small JSON file says who holds it, for the message a second sweep prints.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from crawler.exceptions import SweepLocked
from crawler.files import FILE_MODE, make_folders, write_whole
from crawler.store import now


def lock_path(db: Path, brand: str) -> Path:
    return db.with_name(f"{db.name}.{brand}.lock")


@contextmanager
def brand_lock(db: Path, brand: str) -> Iterator[None]:
    """Hold the brand's sweep lock, or raise ``SweepLocked`` at once."""
    path = lock_path(db, brand)
    make_folders(path.parent)
    info = path.with_name(path.name + ".json")
    lock = FileLock(str(path), timeout=0, mode=FILE_MODE)  # not world-writable, whatever the umask
    try:
        lock.acquire()
    except Timeout:
        holder = _read(info)
        raise SweepLocked(
            f"a sweep of {brand} is already running (pid {holder.get('pid', '?')}, started "
            f"{holder.get('started', '?')}, store {db}); this one exits, try again later"
        ) from None
    try:
        write_whole(info, json.dumps({"pid": os.getpid(), "started": now(),
                                      "brand": brand}).encode())
        yield
    finally:
        info.unlink(missing_ok=True)
        lock.release()


def _read(info: Path) -> dict[str, object]:
    try:
        data: dict[str, object] = json.loads(info.read_text())
        return data
    except (OSError, ValueError):
        return {}
