"""The ``brandsweep`` command: parses options, calls the library, prints results.

Exit codes: 0 ok, 1 error, 2 bad usage or configuration, 3 partial (a marketplace was
blocked or its extraction failed), 75 a sweep for the brand is already running.
"""

from __future__ import annotations

from typing import Any

import click

from crawler import __version__
from crawler.exceptions import BrandsweepError


class BrandsweepGroup(click.Group):
    """Turns our own exceptions into one-line errors with their documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrandsweepError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=BrandsweepGroup)
@click.version_option(__version__, prog_name="brandsweep")
def cli() -> None:
    """Sweep marketplaces for a brand's keywords, score suspect listings with YAML rule
    sets, and draft takedown notices into a local SQLite store."""


@cli.command()
@click.option("--install", is_flag=True,
              help="Install Chromium if none is found (apt-get as root on Debian, "
                   "otherwise playwright install chromium).")
def browser(install: bool) -> None:
    """Show the Chromium binary brandsweep uses for pages that need a browser."""
    from crawler.browser import ensure_chromium

    click.echo(ensure_chromium(install=install))


@cli.command()
@click.option("--seed", default=7, show_default=True, help="Fixture catalogue seed.")
def demo(seed: int) -> None:
    """Start the fixture marketplaces and run the demo against them."""
    from crawler.demo import run

    run(click.echo, seed=seed)
