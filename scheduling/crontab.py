"""Installing schedule jobs as crontab entries, written by python-crontab.

Each entry's comment is ``brandsweep:<schedule file>:<job>``, so ``list`` and ``remove``
touch only ours, and installing again replaces the entries of that schedule file rather
than adding a second copy. Other lines are kept byte for byte: we edit the crontab line by
line and never re-render what is not ours. ``--tabfile`` writes a crontab file instead of
the user's crontab; one in a ``cron.d`` folder, or ``/etc/crontab``, is a system crontab,
whose lines carry the user the job runs as (the user who installs it).

A schedule file is data a careless or hostile hand may have written, so every word of the
command is quoted for the shell, nothing may hold a line break, cron's ``%`` is escaped,
and the text about to be written is parsed back and must hold exactly our jobs.
"""

from __future__ import annotations

import logging
import os
import pwd
import re
import shlex
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import crontab as python_crontab
from croniter import CroniterBadDateError, croniter
from crontab import CronItem, CronTab

from crawler.exceptions import ConfigError, CrontabError
from scheduling import tabfile as tabfile_io
from scheduling.schedule import Job, Schedule, check_path, line_breaker, shown

MARK = "brandsweep:"
# Write the five fields as the schedule gives them: python-crontab would turn "0 0 * * 0"
# into "@weekly", a form its own reader cannot read back once the command holds a "#"
python_crontab.SPECIALS_CONVERSION = False


@dataclass
class Entry:
    schedule: str
    job: str
    cron: str
    command: str
    enabled: bool

    def next_runs(self, n: int = 3, start: datetime | None = None) -> list[datetime]:
        """The next ``n`` runs; fewer (none) for an entry that never fires again, e.g. one
        written by hand or by an older brandsweep."""
        it = croniter(self.cron, start or datetime.now())
        runs: list[datetime] = []
        try:
            for _ in range(n):
                runs.append(it.get_next(datetime))
        except CroniterBadDateError:
            pass
        return runs


def system(tabfile: Path | None) -> bool:
    """Whether ``tabfile`` is a system crontab (a user column before each command)."""
    if tabfile is None:
        return False
    path = tabfile.absolute()
    return path.parent.name == "cron.d" or str(path) == "/etc/crontab"


def key(schedule_file: Path) -> str:
    """The schedule file as its entries' comments name it: absolute, symlinks resolved."""
    return str(check_path(schedule_file))


def command(schedule_file: Path, job: Job) -> str:
    """What cron runs: absolute paths, this venv's Python, the schedule's folder; output
    only when a person must look (the job logs everything else). Every word is quoted;
    ``PYTHONSAFEPATH`` keeps a ``crawler`` module in the schedule's folder from being run
    in place of ours."""
    file = check_path(schedule_file)
    python = sys.executable  # as it is: resolving a venv's python would leave the venv
    if not os.path.isabs(python) or line_breaker(python):
        raise ConfigError([f"{shown(python) or 'this Python'}: cron needs an absolute path "
                           "without line breaks to this Python; run brandsweep from "
                           "another venv"])
    env = " ".join(f"{k}={_word(v)}" for k, v in sorted(job.env.items()))
    return (f"cd {_word(str(file.parent))} && {env + ' ' if env else ''}PYTHONSAFEPATH=1 "
            f"{_word(python)} -m crawler schedule run {_word(job.name)} "
            f"--file {_word(str(file))}")


def install(schedule: Schedule, schedule_file: Path, tabfile: Path | None = None
            ) -> list[Entry]:
    """Write one entry per job, replacing this schedule file's earlier entries. The new
    text is checked first (parsed back: our jobs, exactly, and no other line added or
    changed); if it is not right, nothing is written."""
    schedule_key = key(schedule_file)
    tabfile_io.check(tabfile, installing=True)
    if not schedule.jobs:
        raise ConfigError([f"{schedule_key}: the schedule has no jobs, so there is "
                           "nothing to install; add one under 'jobs:'"])
    user = pwd.getpwuid(os.getuid()).pw_name if system(tabfile) else None
    parser = _parser(tabfile)
    lines = _lines(tabfile_io.read(tabfile))
    kept = [line for line in lines if not _ours(_key_of(line, parser), schedule_key)]
    wanted = [_entry(schedule_file, schedule_key, job, user, _parser(tabfile))
              for job in schedule.jobs]
    text = "".join(line + "\n" for line in kept + [line for line, _ in wanted])
    _verify(text, len(kept), {job.name: item for job, (_, item) in
                              zip(schedule.jobs, wanted, strict=True)}, schedule_key, tabfile)
    tabfile_io.write(tabfile, text)
    installed = entries(tabfile, schedule_key)
    if len(installed) != len(wanted):
        raise CrontabError(f"{tabfile_io.where(tabfile)} holds {len(installed)} of the schedule's "
                           f"{len(wanted)} jobs after writing it; check it with "
                           "'brandsweep schedule list'")
    return installed


def entries(tabfile: Path | None = None, schedule_key: str | None = None) -> list[Entry]:
    """Our entries (of one schedule file, if given)."""
    tabfile_io.check(tabfile)
    parser = _parser(tabfile)
    out = []
    for line in _lines(tabfile_io.read(tabfile)):
        item = _item(line, parser)
        parsed = _parse(item.comment) if item is not None else None
        if item is None or parsed is None or not _ours(parsed, schedule_key):
            continue
        out.append(Entry(parsed[0], parsed[1], str(item.slices), item.command,
                         item.is_enabled()))
    return out


def remove(tabfile: Path | None = None, schedule_key: str | None = None) -> int:
    """Remove our entries (of one schedule file, if given); others stay, byte for byte."""
    tabfile_io.check(tabfile)
    parser = _parser(tabfile)
    lines = _lines(tabfile_io.read(tabfile))
    kept = [line for line in lines if not _ours(_key_of(line, parser), schedule_key)]
    if len(kept) != len(lines):
        tabfile_io.write(tabfile, "".join(line + "\n" for line in kept))
    return len(lines) - len(kept)


def _word(text: str) -> str:
    """``text`` as one shell word that survives a crontab line. Three characters are
    written outside the shell's quotes: ``%`` bare (python-crontab writes it ``\\%``, which
    cron turns back into ``%``; a ``\\`` just before it would undo that escape), ``\\`` as
    ``'\\'`` (BSD cron reads ``\\\\`` as one backslash) and ``#`` as ``'#'`` (python-crontab
    reads a blank then ``#`` as the start of the comment)."""
    out = []
    for part in re.split(r"([%#\\])", text):
        if part == "%":
            out.append("%")
        elif part in ("#", "\\"):
            out.append(f"'{part}'")
        elif part:
            out.append(shlex.quote(part))
    return "".join(out) or "''"


def _comment(schedule_key: str, job: str) -> str:
    """Our mark. cron hands the comment to the shell with the command, so each ``%`` in
    it is escaped too (with the backslashes before it doubled, so the escape holds)."""
    return re.sub(r"(\\*)%", lambda m: m[1] * 2 + "\\%", f"{MARK}{schedule_key}:{job}")


def _parse(comment: str | None) -> tuple[str, str] | None:
    if not comment or not comment.startswith(MARK):
        return None
    text = re.sub(r"(\\*)%", lambda m: "\\" * (len(m[1]) // 2) + "%", comment[len(MARK):])
    schedule, _, job = text.rpartition(":")
    return (schedule, job) if schedule and job else None


def _ours(parsed: tuple[str, str] | None, schedule_key: str | None) -> bool:
    return parsed is not None and schedule_key in (None, parsed[0])


def _entry(schedule_file: Path, schedule_key: str, job: Job, user: str | None,
           parser: CronTab) -> tuple[str, CronItem]:
    """The line for ``job`` and the item it must parse back to."""
    # made by the tab, so that it renders a system crontab's user column
    item = parser.new(command=command(schedule_file, job),
                      comment=_comment(schedule_key, job.name), user=user)
    item.setall(job.cron)
    return item.render(), item


def _verify(text: str, kept: int, wanted: dict[str, CronItem], schedule_key: str,
            tabfile: Path | None) -> None:
    """Parse ``text`` back as cron will read it: exactly our jobs, in order, each line
    what we generated, and no line more than the ones kept and ours."""
    problems = []
    lines = text.split("\n")[:-1]
    if len(lines) != kept + len(wanted):
        problems.append(f"it would have {len(lines)} lines, not the {kept} kept and "
                        f"{len(wanted)} of the schedule")
    quiet = logging.getLogger("crontab")
    was, quiet.disabled = quiet.disabled, True  # it logs its views of others' lines
    try:
        back = [item for item in _parser(tabfile, text)
                if _ours(_parse(item.comment), schedule_key)]
    finally:
        quiet.disabled = was
    if len(back) != len(wanted):
        problems.append(f"it would hold {len(back)} entries of this schedule, not "
                        f"{len(wanted)}")
    for got, (job, want) in zip(back, wanted.items(), strict=False):
        same = (got.command == want.command and str(got.slices) == str(want.slices)
                and got.comment == want.comment and got.is_valid() and got.is_enabled()
                and got.stdin is None and got.user == want.user)
        if not same:
            problems.append(f"job {job!r} would not read back as written")
    if problems:
        raise CrontabError(f"refusing to write {tabfile_io.where(tabfile)}: {'; '.join(problems)}; "
                           "nothing was written")


def _parser(tabfile: Path | None, text: str = "") -> CronTab:
    """A python-crontab tab of the right format (``user=False``: a system crontab)."""
    return CronTab(tab=text, user=False if system(tabfile) else None)


def _item(line: str, parser: CronTab) -> CronItem | None:
    """The line as python-crontab reads it, if it could be ours (others stay unparsed)."""
    if MARK not in line:
        return None
    item = CronItem.from_line(line, cron=parser)
    return item if item.is_valid() else None


def _key_of(line: str, parser: CronTab) -> tuple[str, str] | None:
    item = _item(line, parser)
    return _parse(item.comment) if item is not None else None


def _lines(text: str) -> list[str]:
    # cron ends a line at "\n" only (str.splitlines would also split at \x0c, \x85 ...)
    lines = text.split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines
