"""Reading and writing a crontab: the user's (through the ``crontab`` program) or a
crontab file (``--tabfile``), which is checked first (no symlink, FIFO or device; a
cron.d name cron reads) and written whole or not at all."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from crawler.exceptions import ConfigError, CrontabError
from scheduling.schedule import line_breaker, shown

# Debian's cron reads only cron.d files named like this (run-parts' rule); cronie reads
# those too
CRON_D_NAME = re.compile(r"[A-Za-z0-9_-]+")


def where(tabfile: Path | None) -> str:
    return shown(str(tabfile)) if tabfile is not None else "your crontab"


def check(tabfile: Path | None, installing: bool = False) -> None:
    if tabfile is None:
        return
    found = line_breaker(str(tabfile))
    if found:
        raise ConfigError([f"{shown(str(tabfile))}: the crontab file's path holds {found}; "
                           "name another file"])
    if installing and tabfile.absolute().parent.name == "cron.d" and not \
            CRON_D_NAME.fullmatch(tabfile.name):
        raise ConfigError([f"{tabfile}: cron ignores files in cron.d whose names hold "
                           "anything but letters, digits, _ and -; name it e.g. "
                           f"{tabfile.with_name('brandsweep')}"])
    try:
        st = tabfile.lstat()
    except FileNotFoundError:
        if installing and not tabfile.absolute().parent.is_dir():
            raise ConfigError([f"{tabfile}: the crontab file's folder "
                               f"{tabfile.absolute().parent} does not exist; create it "
                               "first"]) from None
        return
    except OSError as exc:
        raise CrontabError(f"{where(tabfile)}: cannot read: {exc.strerror}") from exc
    # a symlink would be replaced by a regular file, leaving its target as it was
    if stat.S_ISLNK(st.st_mode):
        raise ConfigError([f"{tabfile}: the crontab file is a symlink (to "
                           f"{shown(os.readlink(tabfile))}); name the real file"])
    if not stat.S_ISREG(st.st_mode):  # a FIFO would hang the read, a device worse
        raise ConfigError([f"{tabfile}: the crontab file is not a regular file; name "
                           "another one"])


def _crontab_program() -> str:
    found = shutil.which("crontab")
    if found is None:
        raise CrontabError("no crontab program found: install cron (e.g. apt-get install "
                           "cron), or write a crontab file with --tabfile")
    return found


def read(tabfile: Path | None) -> str:
    """The crontab's text ("" if there is none yet); undecodable bytes are kept as they
    are, so other people's lines are written back unchanged."""
    if tabfile is not None:
        try:
            # what was checked may since have been swapped: a FIFO must not block the
            # open, a symlink must not be followed
            fd = os.open(tabfile, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
        except FileNotFoundError:
            return ""
        except OSError as exc:
            raise CrontabError(f"{where(tabfile)}: cannot read: {exc.strerror}") from exc
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise ConfigError([f"{tabfile}: the crontab file is not a regular file; "
                                   "name another one"])
            return f.read().decode("utf-8", "surrogateescape")
    done = subprocess.run([_crontab_program(), "-l"], capture_output=True, check=False)
    stderr = done.stderr.decode(errors="replace").strip()
    if done.returncode != 0:
        if "no crontab for" in stderr:
            return ""
        raise CrontabError(f"crontab -l failed (exit {done.returncode}): "
                           f"{shown(stderr) or 'no message'}")
    return done.stdout.decode("utf-8", "surrogateescape")


def write(tabfile: Path | None, text: str) -> None:
    data = text.encode("utf-8", "surrogateescape")
    if tabfile is None:
        with tempfile.NamedTemporaryFile(prefix="brandsweep-crontab-") as f:
            f.write(data)
            f.flush()
            done = subprocess.run([_crontab_program(), f.name], capture_output=True,
                                  check=False)
        if done.returncode != 0:
            stderr = done.stderr.decode(errors="replace").strip()
            raise CrontabError(f"crontab refused the new crontab (exit {done.returncode}): "
                               f"{shown(stderr) or 'no message'}")
        return
    # whole or not at all, through a hidden name (cron skips dot files in cron.d) that is
    # new and random, so a symlink planted at a predictable name is never written through
    tmp: Path | None = None
    try:
        mode = tabfile.stat().st_mode & 0o7777 if tabfile.exists() else 0o644
        fd, name = tempfile.mkstemp(prefix=f".{tabfile.name}.", suffix=".part",
                                    dir=tabfile.parent)
        tmp = Path(name)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, tabfile)
    except OSError as exc:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise CrontabError(f"{where(tabfile)}: cannot write: {exc.strerror}") from exc
