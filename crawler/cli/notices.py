"""``brandsweep notices draft|list|show|export|mark-submitted``: takedown notices from
confirmed cases."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from crawler import vocab
from crawler.cli.options import by_option, db_option, json_option, marketplaces_dir_option
from crawler.cli.options import echo_json as _echo_json
from crawler.cli.options import open_store as _open
from crawler.cli.options import rules_option as _rules_option
from crawler.cli.options import short as _short
from crawler.files import make_folders


@click.group()
def notices() -> None:
    """Draft, list, show, export and mark notices submitted."""


@notices.command("draft")
@click.option("--brand", required=True, help="Draft this brand's ready cases.")
@_rules_option
@marketplaces_dir_option
@by_option
@db_option
def notices_draft(brand: str, rules_path: Path | None, marketplaces_dir: tuple[Path, ...],
                  by: str, db: Path) -> None:
    """Draft notices for confirmed cases and cases at stages that draft automatically;
    only what is in no notice yet."""
    from crawler.notices import drafting
    from crawler.profiles import loading as profiles
    from crawler.rules import files as ruleset
    from crawler.rules import loader

    rs = loader.load(ruleset.brand_file(brand, rules_path))
    result = drafting.draft(_open(db), rs, profiles.load_profiles(list(marketplaces_dir)),
                            by)
    programs = ", ".join(f"{p} {n}" for p, n in sorted(result.by_program.items()))
    joined = sum(result.joined.values())
    click.echo(f"{len(result.notices)} new drafts with {result.items - joined} listings"
               + (f"; {joined} listings added to {len(result.joined)} unsent drafts"
                  if joined else "")
               + (f" ({programs})" if programs else "")
               + (f"; {result.waiting_evidence} cases wait for evidence (run `brandsweep "
                  "evidence capture`)" if result.waiting_evidence else ""))


@notices.command("list")
@click.option("--brand", help="Only this brand's notices.")
@click.option("--status", type=click.Choice(vocab.NOTICE_STATUSES), help="Only these.")
@click.option("--program", help="Only this program (e.g. ebay_vero).")
@db_option
@json_option
def notices_list(brand: str | None, status: str | None, program: str | None, db: Path,
                 as_json: bool) -> None:
    """One line per notice: id, brand, program, marketplace, seller, items, status."""
    from crawler.notices import notices as listing

    rows = listing(_open(db), brand, status, program)
    if as_json:
        _echo_json(rows)
        return
    for n in rows:
        part = f" part {n['part']}/{n['parts']}" if n["parts"] > 1 else ""
        click.echo(f"{n['id']:>5} {n['brand']:<8} {n['program']:<12} {n['marketplace']:<10} "
                   f"{n['items']:>4} items  {n['status']:<9} {_short(n['seller'], 40)}{part}")
    click.echo(f"{len(rows)} notices", err=True)


@notices.command("show")
@click.argument("notice_id", type=int)
@click.option("--format", "fmt", type=click.Choice(vocab.NOTICE_SHOW_FORMATS),
              default="text", show_default=True, help="How to show it.")
@_rules_option
@db_option
def notices_show(notice_id: int, fmt: str, rules_path: Path | None, db: Path) -> None:
    """Print one notice as it would be sent."""
    from crawler.notices import export

    store = _open(db)
    data = export.notice(store, notice_id)
    out = export.render(data, fmt, _templates(data["brand"], rules_path))
    click.echo(out if isinstance(out, str) else out.decode(), nl=False)


@notices.command("export")
@click.argument("notice_id", type=int, required=False)
@click.option("--all", "every", is_flag=True, help="Every notice (with --status: those).")
@click.option("--status", type=click.Choice(vocab.NOTICE_STATUSES),
              help="With --all: only notices with this status.")
@click.option("--format", "fmt", type=click.Choice(
    vocab.NOTICE_FORMATS), default="text", show_default=True,
    help="text, eml (email with an HTML part), md, json, csv (bulk sheet) or lumen.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Write one file per notice into this folder (default: stdout).")
@_rules_option
@db_option
def notices_export(notice_id: int | None, every: bool, status: str | None, fmt: str,
                   out: Path | None, rules_path: Path | None, db: Path) -> None:
    """Export one notice (ID) or all of them, one file per notice or to stdout."""
    from crawler.files import write_whole
    from crawler.notices import export
    from crawler.notices import notices as listing

    if (notice_id is None) == (not every):
        raise click.UsageError("give a notice ID or --all, not both")
    store = _open(db)
    ids = [notice_id] if notice_id is not None else \
        [n["id"] for n in listing(store, status=status)]
    if out is not None:
        make_folders(out)
    for i in ids:
        data = export.notice(store, i)
        body = export.render(data, fmt, _templates(data["brand"], rules_path))
        raw = body.encode() if isinstance(body, str) else body
        if out is None:
            sys.stdout.buffer.write(raw)
            sys.stdout.flush()
            continue
        target = out / export.filename(data, fmt)
        write_whole(target, raw)  # a killed export leaves no half-written notice file
        click.echo(str(target))


def _templates(brand: str, rules_path: Path | None) -> str | None:
    """The brand's own notice templates folder, if its rule set names one."""
    from crawler.exceptions import UnknownBrand
    from crawler.rules import files as ruleset
    from crawler.rules import loader

    try:
        return str(loader.load(ruleset.brand_file(brand, rules_path)).templates or "") or None
    except UnknownBrand:
        return None  # the rule set is gone: our templates still export the notice


@notices.command("mark-submitted")
@click.argument("notice_ids", nargs=-1, type=int, required=True)
@by_option
@db_option
def notices_mark_submitted(notice_ids: tuple[int, ...], by: str, db: Path) -> None:
    """Record that a person sent these notices (all or none); their cases become
    submitted and `brandsweep verify` will check them."""
    from crawler.notices import mark_submitted

    moved = mark_submitted(_open(db), list(notice_ids), by)
    click.echo(f"{len(notice_ids)} notices submitted ({moved} cases)")

