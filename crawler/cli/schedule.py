"""``brandsweep schedule`` (cron jobs from schedule.yaml) and ``brandsweep report``."""

from __future__ import annotations

import sys
from pathlib import Path

import click


def _file_option(fn: click.decorators.FC) -> click.decorators.FC:
    return click.option("--file", "schedule_file", type=click.Path(dir_okay=False,
                                                                   path_type=Path),
                        default="schedule.yaml", show_default=True,
                        help="The schedule file.")(fn)


def _tabfile_option(fn: click.decorators.FC) -> click.decorators.FC:
    return click.option("--tabfile", type=click.Path(dir_okay=False, path_type=Path),
                        help="A crontab file to write instead of your crontab "
                             "(e.g. /etc/cron.d/brandsweep).")(fn)


def _jobs(n: int) -> str:
    return f"{n} job" if n == 1 else f"{n} jobs"


@click.group()
def schedule() -> None:
    """Install, list, remove and run the cron jobs of a schedule file."""


@schedule.command("install")
@_file_option
@_tabfile_option
def schedule_install(schedule_file: Path, tabfile: Path | None) -> None:
    """Write one crontab entry per job; installing again replaces them."""
    from scheduling import crontab
    from scheduling.schedule import load

    entries = crontab.install(load(schedule_file), schedule_file, tabfile)
    for e in entries:
        nxt = e.next_runs(1)
        click.echo(f"{e.job:<16} {e.cron:<16} next "
                   f"{f'{nxt[0]:%Y-%m-%d %H:%M}' if nxt else 'never'}")
    click.echo(f"{_jobs(len(entries))} installed in {tabfile or 'your crontab'}", err=True)


@schedule.command("list")
@_tabfile_option
@click.option("--next", "runs", type=click.IntRange(1, 20), default=3, show_default=True,
              help="How many next runs to show per job.")
def schedule_list(tabfile: Path | None, runs: int) -> None:
    """Show brandsweep's crontab entries and their next runs."""
    from scheduling import crontab

    entries = crontab.entries(tabfile)
    for e in entries:
        when = ", ".join(f"{t:%Y-%m-%d %H:%M}" for t in e.next_runs(runs)) or "never"
        click.echo(f"{e.job:<16} {e.cron:<16} {'on ' if e.enabled else 'off'} next: {when}"
                   f"  ({e.schedule})")
    click.echo(_jobs(len(entries)), err=True)


@schedule.command("remove")
@_file_option
@_tabfile_option
@click.option("--all", "every", is_flag=True,
              help="Every brandsweep entry, whatever schedule file installed it.")
def schedule_remove(schedule_file: Path, tabfile: Path | None, every: bool) -> None:
    """Remove this schedule file's entries (only ours; other entries stay)."""
    from scheduling import crontab

    gone = crontab.remove(tabfile, None if every else crontab.key(schedule_file))
    click.echo(f"{_jobs(gone)} removed from {tabfile or 'your crontab'}")


@schedule.command("run")
@click.argument("job")
@_file_option
def schedule_run(job: str, schedule_file: Path) -> None:
    """Run one job now, as cron does: logs to the job's log file, HTML report beside it,
    stdout only when something needs a person. Exit: the worst of its sweeps."""
    from scheduling import runner
    from scheduling.schedule import load

    result = runner.run(load(schedule_file), schedule_file, job)
    for line in result.problems:
        click.echo(line)
    sys.exit(result.exit_code)
