"""``brandsweep browser``: the Chromium brandsweep uses, found or installed."""

from __future__ import annotations

import click


@click.command()
@click.option("--install", is_flag=True,
              help="Install Chromium if none is found (apt-get as root on Debian, "
                   "otherwise playwright install chromium).")
def browser(install: bool) -> None:
    """Show the Chromium binary brandsweep uses for pages that need a browser."""
    from crawler.browser.chromium import ensure_chromium

    click.echo(ensure_chromium(install=install))

