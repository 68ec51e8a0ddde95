"""``brandsweep marketplaces list|check``: the profiles, and one live search page through one."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from crawler.cli.options import marketplaces_dir_option as _marketplaces_dir_option


@click.group()
def marketplaces() -> None:
    """List marketplace profiles and check them against a live search page."""


@marketplaces.command("list")
@_marketplaces_dir_option
def marketplaces_list(marketplaces_dir: tuple[Path, ...]) -> None:
    """Show every marketplace profile brandsweep knows."""
    from crawler.profiles import loading as profiles

    for p in profiles.load_profiles(list(marketplaces_dir)).values():
        click.echo(f"{p.name:<12} {p.search.render:<8} {p.search.pagination.kind:<16} "
                   f"{p.notice_program:<12} {p.base_url}  ({p.source})")


@marketplaces.command("check")
@click.argument("name")
@click.option("--keyword", required=True, help="The keyword to search for.")
@click.option("--browser/--http", "use_browser", default=None,
              help="Force the browser or plain HTTP (default: the profile's render mode).")
@click.option("--detail", is_flag=True,
              help="Also fetch the first card's own page and show every detail field.")
@_marketplaces_dir_option
def marketplaces_check(name: str, keyword: str, use_browser: bool | None, detail: bool,
                       marketplaces_dir: tuple[Path, ...]) -> None:
    """Fetch one search page and show what each selector extracted (a price also as
    brandsweep reads it); with --detail, the first listing's own page too."""
    from crawler.profiles import check
    from crawler.profiles import loading as profiles

    profile = profiles.select(profiles.load_profiles(list(marketplaces_dir)), [name])[0]
    report = check.run(profile, keyword, use_browser, detail=detail)
    for line in report.lines():
        click.echo(line)
    sys.exit(report.exit_code)

