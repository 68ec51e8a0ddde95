"""Writing files a person or a later run relies on: whole or not at all, and with modes we
choose rather than the umask's.

Files are ``FILE_MODE`` (0o644: the owner writes, others read) and folders ``FOLDER_MODE``
(0o755), whatever the umask, so a store, evidence or an export is never world-writable:
evidence anybody could rewrite is no evidence. Folders and files that already exist keep
the mode their owner gave them.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

FILE_MODE = 0o644
FOLDER_MODE = 0o755


def make_folders(path: Path) -> None:
    """Create ``path`` and its missing parents as ``FOLDER_MODE``."""
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(FOLDER_MODE)
        except FileExistsError:
            if not folder.is_dir():
                raise
            continue  # another process made it meanwhile: its mode is its own
        os.chmod(folder, FOLDER_MODE)  # mkdir's mode is cut by the umask; chmod's is not


def create_file(path: Path, mode: int = FILE_MODE) -> None:
    """Create ``path`` empty with ``mode`` if it does not exist, for a file another library
    opens and fills (SQLite gives its ``-wal`` and ``-shm`` files the database file's mode).
    An existing file is left alone."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def write_whole(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """Write ``data`` to a temporary name, flush it to disk, then rename it into place:
    a killed process leaves the old file or the new one, never half of one. The file gets
    ``mode`` exactly, and missing folders ``FOLDER_MODE``."""
    make_folders(path.parent)
    # a new file under a random name (O_CREAT | O_EXCL): nothing planted at a predictable
    # temporary name, symlink or hard link, can be written through
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)  # mkstemp makes it 0o600
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
