"""``brandsweep listings``: every stored listing with its verdicts, staged or not."""

from __future__ import annotations

import json
from pathlib import Path

import click

from crawler.cli.options import db_option, json_option, open_store

LIMIT = 200  # lines `listings` prints unless told otherwise (a screenful or few)


@click.command("listings")
@click.option("--brand", help="Only this brand's verdicts.")
@click.option("--marketplace", help="Only listings on this marketplace.")
@click.option("--stage", help="Only listings at this stage (e.g. review, takedown).")
@click.option("--unstaged", is_flag=True, help="Only listings no stage was reached for.")
@click.option("--search", help="Full text: every word in the title or description.")
@click.option("--limit", type=click.IntRange(0), default=None,
              help=f"At most this many lines (0: all) [default: {LIMIT}; with --json: all].")
@db_option
@json_option
def listings(brand: str | None, marketplace: str | None, stage: str | None, unstaged: bool,
             search: str | None, limit: int | None, db: Path, as_json: bool) -> None:
    """Every stored listing with its verdict (one line per brand that judged it) and
    seller, staged or not; best matches first with --search."""
    if stage and unstaged:
        raise click.UsageError("give --stage or --unstaged, not both")
    if limit is None:  # scripts reading --json get every line, as they always did
        limit = 0 if as_json else LIMIT
    # one more than shown: whether there are more, without counting a million rows
    rows = open_store(db).listings_with_verdicts(
        brand=brand, marketplace=marketplace, stage=stage, unstaged=unstaged, search=search,
        limit=limit + 1 if limit else None)
    more = bool(limit) and len(rows) > limit
    rows = rows[:limit] if limit else rows
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False, sort_keys=True))
        if more:
            click.echo(f"first {len(rows)} listings; more match (--limit 0 for all)",
                       err=True)
        return
    for r in rows:
        title = " ".join((r["title"] or "").split())
        verdict = f"{r['brand']} {r['stage'] or '-'} {r['score']}" if r["brand"] else \
            "not judged"
        case = f" case {r['case_id']} {r['case_status']}" if r["case_id"] else ""
        click.echo(f"{r['marketplace']}:{r['listing_id']}  {verdict}{case}  "
                   f"{r['price'] or ''} {r['currency'] or ''}  {r['seller'] or '-'}  "
                   f"{title[:70]}")
    if more:
        click.echo(f"first {len(rows)} listings; more match (--limit N for more, --limit 0 "
                   "for all)", err=True)
    else:
        click.echo(f"{len(rows)} listings", err=True)

