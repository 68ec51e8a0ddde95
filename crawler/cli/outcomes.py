"""``brandsweep outcomes``: what the brand's submitted notices achieved, per marketplace
and notice program (``crawler.reports.outcomes``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from crawler.cli.options import db_option, json_option, open_store


@click.command()
@click.option("--brand", help="Only this brand's notices (default: every brand).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
              help="Only notices submitted on or after this date (UTC), e.g. 2026-01-31.")
@db_option
@json_option
def outcomes(brand: str | None, since: datetime | None, db: Path, as_json: bool) -> None:
    """Takedown outcomes: notices submitted, listings removed, still live and relisted,
    removal rate, time to removal, and the relist rate within 30 days."""
    from crawler.notices.escaping import json_text
    from crawler.reports import outcomes as oc

    store = open_store(db)
    got = oc.gather(store, brand, since.strftime("%Y-%m-%dT%H:%M:%S") if since else None)
    if as_json:
        click.echo(json_text(got.as_dict(), sort_keys=True), nl=False)
        return
    for line in oc.text(got):
        click.echo(line)
