"""``brandsweep store path``: about the store file itself."""

from __future__ import annotations

from pathlib import Path

import click

from crawler.cli.options import db_option, open_store


@click.group("store")
def store_group() -> None:
    """About the store file itself."""


@store_group.command("path")
@db_option
def store_path(db: Path) -> None:
    """Print the store's absolute path (for sqlite3, Datasette, backups)."""
    open_store(db)
    click.echo(str(db.resolve()))

