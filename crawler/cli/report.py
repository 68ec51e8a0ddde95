"""``brandsweep report``: what one sweep found and how each marketplace behaved."""

from __future__ import annotations

from pathlib import Path

import click

from crawler import vocab
from crawler.cli.options import db_option
from crawler.cli.options import open_store as _open


@click.command()
@click.option("--sweep", "sweep_id", type=int, help="Report this sweep.")
@click.option("--last", is_flag=True, help="Report the latest finished sweep (default).")
@click.option("--format", "fmt", type=click.Choice(vocab.REPORT_FORMATS),
              default="text", show_default=True, help="text, json or html.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file (default: stdout).")
@db_option
def report(sweep_id: int | None, last: bool, fmt: str, out: Path | None, db: Path) -> None:
    """What a sweep found (new cases, drafts, price drops, relistings) and each
    marketplace's health; html is one self-contained page with charts and thumbnails."""
    from crawler.files import write_whole
    from crawler.reports.build import build

    if sweep_id is not None and last:
        raise click.UsageError("give --sweep ID or --last, not both")
    text = build(_open(db), sweep_id, fmt)
    if out is None:
        click.echo(text, nl=False)
        return
    write_whole(out, text.encode())
    click.echo(str(out))

