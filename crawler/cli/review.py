"""``brandsweep review list|show|confirm|dismiss|reopen|undo``: the analyst's triage of cases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from crawler import vocab
from crawler.cli.options import by_option, db_option, json_option
from crawler.cli.options import echo_json as _echo_json
from crawler.cli.options import open_store as _open
from crawler.cli.options import short as _short


@click.group()
def review() -> None:
    """List, show, confirm and dismiss cases (listings the rule set staged)."""


LIST_LIMIT = 200  # cases `review list` prints unless told otherwise (a screenful or few)


@review.command("list")
@click.option("--brand", help="Only this brand's cases.")
@click.option("--stage", help="Only cases at this stage (e.g. review, takedown).")
@click.option("--status", type=click.Choice(vocab.CASE_STATUSES),
              help="Only cases with this status.")
@click.option("--marketplace", help="Only cases on this marketplace.")
@click.option("--limit", type=click.IntRange(0), default=None,
              help=f"At most this many cases, oldest first (0: all) [default: "
                   f"{LIST_LIMIT}; with --json: all].")
@db_option
@json_option
def review_list(brand: str | None, stage: str | None, status: str | None,
                marketplace: str | None, limit: int | None, db: Path, as_json: bool) -> None:
    """One line per case: id, brand, stage, status, marketplace:listing, price, seller,
    title."""
    from crawler.cases import lifecycle as cases

    if limit is None:  # scripts reading --json get every case, as they always did
        limit = 0 if as_json else LIST_LIMIT
    store = _open(db)
    rows = cases.cases(store, brand, stage, status, marketplace, limit or None)
    total = len(rows)
    if limit and total == limit:  # maybe more: count them (an index count, not a read)
        total = cases.count(store, brand, stage, status, marketplace)
    if as_json:
        _echo_json(rows)
        if total > len(rows):
            click.echo(f"{len(rows)} of {total} cases (--limit 0 for all)", err=True)
        return
    for r in rows:
        link = f" (relisting of {r['relisted_from']})" if r["relisted_from"] else ""
        click.echo(f"{r['id']:>6} {r['brand']:<8} {r['stage'] or '-':<9} {r['status']:<10} "
                   f"{r['marketplace']}:{r['listing_id']:<14} {r['price'] or '':>9} "
                   f"{r['currency'] or '':<3} {_short(r['seller'], 18):<18} "
                   f"{_short(r['title'], 60)}{link}")
    if total > len(rows):
        click.echo(f"{len(rows)} of {total} cases (--limit N for more, --limit 0 for all)",
                   err=True)
    else:
        click.echo(f"{len(rows)} cases", err=True)


@review.command("show")
@click.argument("case_id", type=int)
@db_option
@json_option
def review_show(case_id: int, db: Path, as_json: bool) -> None:
    """A case in full: the listing, why it was staged, evidence, notices and its history."""
    from crawler.cases import lifecycle as cases
    from crawler.notices.escaping import money

    c = cases.case(_open(db), case_id)
    if as_json:
        _echo_json(c)
        return
    x = c["listing"]
    click.echo(f"case {c['id']}: {c['brand']} {c['stage'] or '-'} {c['status']}"
               + (f", relisting of case {c['relisted_from']}" if c["relisted_from"] else ""))
    click.echo(f"  {x['marketplace']}:{x['listing_id']}  {x['url']}")
    click.echo(f"  {x['title']}")
    click.echo(f"  {money(x['price'], x['currency'])}, seller {x['seller'] or 'not shown'} "
               f"({x['seller_location'] or 'location unknown'})")
    if "evaluation" in c:
        e = c["evaluation"]
        click.echo(f"  score {e['score']} by rule set {e['version']}:")
        for m in e["matches"]:
            note = f" suppressed by {m['suppressed_by']}" if m.get("suppressed_by") else ""
            click.echo(f"    {m['rule']} +{m['score']}{note}")
    ev = c["evidence"]
    click.echo(f"  evidence: captured {ev['captured_at']}, screenshot {ev['screenshot']} "
               f"sha256 {ev['screenshot_sha256']}" if ev else "  evidence: none yet")
    for n in c["notices"]:
        click.echo(f"  notice {n['id']} ({n['program']}, {n['status']})")
    click.echo("  history:")
    for e in c["events"]:
        move = f" {e['from_status']} -> {e['to_status']}" if e["to_status"] and \
            e["from_status"] != e["to_status"] else ""
        click.echo(f"    {e['at']}  {e['by']}: {e['action']}{move}"
                   + (f" ({e['reason']})" if e["reason"] else ""))


def _decide(action: str) -> Any:
    @click.argument("case_ids", nargs=-1, type=int, required=True)
    @click.option("--reason", required=True, help="Why (kept in the audit trail).")
    @by_option
    @db_option
    def decide(case_ids: tuple[int, ...], reason: str, by: str, db: Path) -> None:
        from crawler.cases import lifecycle as cases

        done = cases.transition(_open(db), case_ids, action, by, reason)
        click.echo(f"{len(done)} cases {cases.TRANSITIONS[action][1]}")
    return decide


review.command("confirm", help="Confirm cases (all or none): they will be drafted into "
               "notices. Reads ids from arguments, e.g. $(... --json | jq)."
               )(_decide("confirm"))


review.command("dismiss", help="Dismiss cases (all or none): no notice will be drafted."
               )(_decide("dismiss"))


@review.command("undo")
@click.argument("case_ids", nargs=-1, type=int, required=True)
@by_option
@db_option
def review_undo(case_ids: tuple[int, ...], by: str, db: Path) -> None:
    """Take back each case's last confirm, dismiss or reopen (all or none), as a new
    audit event; again goes one decision further back."""
    from crawler.cases import lifecycle as cases

    done = cases.undo(_open(db), case_ids, by)
    click.echo(f"{len(done)} cases undone")

