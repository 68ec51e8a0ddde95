"""``brandsweep evidence capture|verify``: screenshots and page copies of cases, their
hashes checked."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from crawler.cli.options import by_option, db_option, marketplaces_dir_option
from crawler.cli.options import open_store as _open


@click.group()
def evidence() -> None:
    """Capture and verify evidence (screenshot and HTML with SHA-256) of cases."""


@evidence.command("capture")
@click.option("--brand", help="Only this brand's cases.")
@click.option("--limit", type=click.IntRange(1), help="At most this many cases.")
@marketplaces_dir_option
@by_option
@db_option
def evidence_capture(brand: str | None, limit: int | None,
                     marketplaces_dir: tuple[Path, ...], by: str, db: Path) -> None:
    """Capture evidence for every case that has none yet (what a sweep does for new
    cases). Exit 3 if some could not be captured: failed, blocked, refused or without a
    marketplace profile."""
    from crawler.browser.chromium import find_chromium
    from crawler.cases import evidence as ev
    from crawler.profiles import loading as profiles

    result = ev.capture(_open(db), profiles.load_profiles(list(marketplaces_dir)),
                        find_chromium(), brand, by, limit=limit)
    click.echo(f"{result.captured} captured, {len(result.failed)} failed, "
               f"{len(result.blocked)} blocked, {len(result.refused)} refused, "
               f"{len(result.no_profile)} without a profile; {result.pending} cases wait "
               f"for the next run (folder {ev.folder(db)})")
    for case_id, why in [*result.failed, *result.blocked, *result.refused,
                         *result.no_profile]:
        click.echo(f"  case {case_id}: {why}", err=True)
    sys.exit(result.exit_code)


@evidence.command("verify")
@db_option
def evidence_verify(db: Path) -> None:
    """Re-hash every evidence file; list each missing or changed one. Exit 1 if any."""
    from crawler.cases import evidence as ev

    report = ev.verify(_open(db))
    for line in report.problems:
        click.echo(line)
    click.echo(f"{report.checked} files checked, {len(report.problems)} problems "
               f"(folder {ev.folder(db)})", err=bool(report.problems))
    sys.exit(1 if report.problems else 0)

