"""Installing schedule jobs as crontab entries through python-crontab.

Each entry's comment is ``brandsweep:<schedule file>:<job>``, so ``list`` and ``remove``
touch only ours, and installing again replaces the entries of that schedule file rather
than adding a second copy. ``--tabfile`` writes a crontab file instead of the user's
crontab (for tests, and for /etc/cron.d).
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from croniter import croniter
from crontab import CronTab

from scheduling.schedule import Job, Schedule

MARK = "brandsweep:"


@dataclass
class Entry:
    schedule: str
    job: str
    cron: str
    command: str
    enabled: bool

    def next_runs(self, n: int = 3, start: datetime | None = None) -> list[datetime]:
        it = croniter(self.cron, start or datetime.now())
        return [it.get_next(datetime) for _ in range(n)]


def _tab(tabfile: Path | None) -> CronTab:
    if tabfile is None:
        return CronTab(user=True)
    if not tabfile.exists():
        tabfile.parent.mkdir(parents=True, exist_ok=True)
        tabfile.write_text("")
    return CronTab(tabfile=str(tabfile))


def command(schedule_file: Path, job: Job) -> str:
    """What cron runs: absolute paths, this venv's Python, the schedule's folder; output
    only when a person must look (the job logs everything else)."""
    folder = schedule_file.resolve().parent
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(job.env.items()))
    return (f"cd {shlex.quote(str(folder))} && {env + ' ' if env else ''}"
            f"{shlex.quote(sys.executable)} -m crawler schedule run {shlex.quote(job.name)} "
            f"--file {shlex.quote(str(schedule_file.resolve()))}")


def install(schedule: Schedule, schedule_file: Path, tabfile: Path | None = None
            ) -> list[Entry]:
    """Write one entry per job, replacing this schedule file's earlier entries."""
    tab = _tab(tabfile)
    key = str(schedule_file.resolve())
    tab.remove(*[item for item in tab if _ours(item.comment, key)])
    for job in schedule.jobs:
        item = tab.new(command=command(schedule_file, job), comment=f"{MARK}{key}:{job.name}")
        item.setall(job.cron)
    tab.write()
    return entries(tabfile, key)


def entries(tabfile: Path | None = None, schedule_key: str | None = None) -> list[Entry]:
    """Our entries (of one schedule file, if given)."""
    out = []
    for item in _tab(tabfile):
        parsed = _parse(item.comment)
        if parsed is None or (schedule_key and parsed[0] != schedule_key):
            continue
        out.append(Entry(parsed[0], parsed[1], str(item.slices), item.command,
                         item.is_enabled()))
    return out


def remove(tabfile: Path | None = None, schedule_key: str | None = None) -> int:
    """Remove our entries (of one schedule file, if given); others stay untouched."""
    tab = _tab(tabfile)
    gone = tab.remove(*[item for item in tab if _ours(item.comment, schedule_key)])
    tab.write()
    return int(gone)


def _ours(comment: str, schedule_key: str | None) -> bool:
    parsed = _parse(comment)
    return parsed is not None and schedule_key in (None, parsed[0])


def _parse(comment: str) -> tuple[str, str] | None:
    if not comment.startswith(MARK):
        return None
    schedule, _, job = comment[len(MARK):].rpartition(":")
    return (schedule, job) if schedule and job else None
