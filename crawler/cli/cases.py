"""``brandsweep review``, ``notices``, ``evidence`` and ``verify``: from a staged listing
to a submitted notice and the check that the listing came down."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from crawler.cli.options import by_option, db_option, json_option, marketplaces_dir_option
from crawler.cli.options import open_store as _open
from crawler.cli.options import rules_option as _rules_option
from crawler.files import make_folders
from crawler.notices.escaping import money


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True, default=str))


def _short(text: str | None, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[:width - 1] + "…"


# -- review -------------------------------------------------------------------------------

@click.group()
def review() -> None:
    """List, show, confirm and dismiss cases (listings the rule set staged)."""


@review.command("list")
@click.option("--brand", help="Only this brand's cases.")
@click.option("--stage", help="Only cases at this stage (e.g. review, takedown).")
@click.option("--status", type=click.Choice(
    ["open", "confirmed", "dismissed", "noticed", "submitted", "removed", "still_live",
     "relisted"]), help="Only cases with this status.")
@db_option
@json_option
def review_list(brand: str | None, stage: str | None, status: str | None, db: Path,
                as_json: bool) -> None:
    """One line per case: id, brand, stage, status, marketplace:listing, price, seller,
    title."""
    from crawler import cases

    rows = cases.cases(_open(db), brand, stage, status)
    if as_json:
        _echo_json(rows)
        return
    for r in rows:
        link = f" (relisting of {r['relisted_from']})" if r["relisted_from"] else ""
        click.echo(f"{r['id']:>6} {r['brand']:<8} {r['stage'] or '-':<9} {r['status']:<10} "
                   f"{r['marketplace']}:{r['listing_id']:<14} {r['price'] or '':>9} "
                   f"{r['currency'] or '':<3} {_short(r['seller'], 18):<18} "
                   f"{_short(r['title'], 60)}{link}")
    click.echo(f"{len(rows)} cases", err=True)


@review.command("show")
@click.argument("case_id", type=int)
@db_option
@json_option
def review_show(case_id: int, db: Path, as_json: bool) -> None:
    """A case in full: the listing, why it was staged, evidence, notices and its history."""
    from crawler import cases

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
        from crawler import cases

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
    from crawler import cases

    done = cases.undo(_open(db), case_ids, by)
    click.echo(f"{len(done)} cases undone")


# -- notices ------------------------------------------------------------------------------

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
    from crawler import profiles, ruleset
    from crawler.notices import drafting
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
@click.option("--status", type=click.Choice(["draft", "submitted"]), help="Only these.")
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
@click.option("--format", "fmt", type=click.Choice(["text", "md", "json"]),
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
@click.option("--status", type=click.Choice(["draft", "submitted"]),
              help="With --all: only notices with this status.")
@click.option("--format", "fmt", type=click.Choice(
    ["text", "eml", "md", "json", "csv", "lumen"]), default="text", show_default=True,
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
    from crawler import ruleset
    from crawler.exceptions import UnknownBrand
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


# -- evidence and verify ------------------------------------------------------------------

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
    from crawler import evidence as ev
    from crawler import profiles
    from crawler.browser import find_chromium

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
    from crawler import evidence as ev

    report = ev.verify(_open(db))
    for line in report.problems:
        click.echo(line)
    click.echo(f"{report.checked} files checked, {len(report.problems)} problems "
               f"(folder {ev.folder(db)})", err=bool(report.problems))
    sys.exit(1 if report.problems else 0)


@click.command()
@click.option("--brand", required=True, help="Check this brand's submitted cases.")
@click.option("--notify", "notify_urls", multiple=True, metavar="URL",
              help="Send the removals found to this apprise URL too (repeatable; the "
                   "rule set's notify: is used as well).")
@marketplaces_dir_option
@by_option
@db_option
@json_option
def verify(brand: str, notify_urls: tuple[str, ...], marketplaces_dir: tuple[Path, ...],
           by: str, db: Path, as_json: bool) -> None:
    """Re-fetch every submitted listing through its marketplace profile: gone ->
    removed, still there -> still_live. Exit 3 if some could not be checked."""
    from crawler import profiles, ruleset
    from crawler import verify as checker
    from crawler.exceptions import UnknownBrand
    from crawler.notify import config

    try:  # verify needs no rule set; without one there is no notify: either
        own = config.from_rule_file(ruleset.brand_file(brand))
    except UnknownBrand:
        own = []
    channels = config.for_run(own, notify_urls)  # checked before anything is fetched
    store = _open(db)
    result = checker.run(store, brand, profiles.load_profiles(list(marketplaces_dir)), by)
    if channels:
        from crawler import notify

        line = notify.after_verify(store, channels, brand=brand,
                                   removed=result.removed).line()
        if line:
            click.echo(f"brandsweep: {line}", err=True)
    if as_json:
        _echo_json({"removed": result.removed, "still_live": result.still_live,
                    "unknown": [{"case": c, "why": w} for c, w in result.unknown]})
    else:
        click.echo(f"{len(result.removed)} removed, {len(result.still_live)} still live, "
                   f"{len(result.unknown)} could not be checked")
        for case_id, why in result.unknown:
            click.echo(f"  case {case_id}: {why}", err=True)
    sys.exit(result.exit_code)
