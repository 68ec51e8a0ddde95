"""``brandsweep rules``: check, test, explain, score, backtest and apply rule sets."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from crawler.cli.options import db_option as _db_option
from crawler.cli.options import json_option as _json_option
from crawler.cli.options import rules_option as _rules_option
from crawler.exceptions import UnknownListing


def _files(paths: tuple[Path, ...]) -> list[Path]:
    from crawler.rules import files as ruleset

    if not paths:
        paths = (ruleset.rules_dir(),)
    out: list[Path] = []
    for p in paths:
        out.extend(sorted(p.glob("*.yaml")) if p.is_dir() else [p])
    return out


@click.group()
def rules() -> None:
    """Check, test, explain, score and backtest the YAML rule sets."""


@rules.command("check")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the problems as a JUnit XML report (for CI).")
def rules_check(paths: tuple[Path, ...], junit: Path | None) -> None:
    """Validate rule set files (default: every rule set in the rules folder).

    Prints every problem as path:line:col: message. Exit 0 clean (warnings allowed),
    1 when any file has errors."""
    from crawler.rules import loader

    results = [loader.check(p) for p in _files(paths)]
    errors = warnings = 0
    for checked in results:
        for problem in checked.problems:
            click.echo(str(problem))
        errors += len(checked.errors)
        warnings += len(checked.problems) - len(checked.errors)
        if not checked.errors:
            rs = checked.ruleset
            click.echo(f"{checked.path}: ok ({len(rs.rules) if rs else 0} rules, version "
                       f"{rs.version if rs else '-'})")
    if junit is not None:
        from crawler.files import write_whole
        from crawler.rules.testing import junit_xml

        write_whole(junit, junit_xml(results))
    click.echo(f"{len(results)} file(s): {errors} error(s), {warnings} warning(s)")
    sys.exit(1 if errors else 0)


@rules.command("test")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
def rules_test(paths: tuple[Path, ...]) -> None:
    """Run the inline tests of rule set files (default: every rule set).

    Prints each failure with its explanation, pass/fail/todo counts and a confusion
    matrix per rule. Exit 1 when a test fails or a file does not load."""
    from crawler.rules import loader, testing

    failed = False
    for path in _files(paths):
        checked = loader.check(path)
        if checked.errors or checked.ruleset is None or checked.model is None:
            for problem in checked.errors:
                click.echo(str(problem))
            failed = True
            continue
        report = testing.run(checked.ruleset, checked.model)
        click.echo(f"{path} (version {checked.ruleset.version})")
        for o in report.outcomes:
            if o.passed and not o.todo:
                continue
            tag = ("TODO passing (remove todo: true)" if o.todo and o.passed else
                   "TODO" if o.todo else "FAIL")
            title = o.listing.get("title")
            click.echo(f"  {tag} {o.where}{' ' + repr(o.name) if o.name else ''}: "
                       f"expected {o.expected}, got {o.got}  title={title!r}")
            for line in o.explanation:
                click.echo(f"      {line}")
        counts = report.counts
        click.echo(f"  {counts['passed']} passed, {counts['failed']} failed, "
                   f"{counts['todo']} todo")
        click.echo(f"  {'rule':<40} {'TP':>4} {'FN':>4} {'FP':>4} {'TN':>4}")
        for rule_id, m in report.confusion.items():
            click.echo(f"  {rule_id:<40} {m[('match', 'match')]:>4} "
                       f"{m[('match', 'no_match')]:>4} {m[('no_match', 'match')]:>4} "
                       f"{m[('no_match', 'no_match')]:>4}")
        failed = failed or bool(report.failures)
    sys.exit(1 if failed else 0)


def _load(brand: str, rules_path: Path | None) -> Any:
    from crawler.rules import files as ruleset
    from crawler.rules import loader

    return loader.load(ruleset.brand_file(brand, rules_path))


@rules.command("explain")
@click.option("--brand", required=True, help="The brand whose rule set judges.")
@click.option("--listing", "listing_ref", required=True, metavar="MARKETPLACE:ID",
              help="The stored listing, e.g. bazaar:123456789012.")
@_rules_option
@_db_option
@_json_option
def rules_explain(brand: str, listing_ref: str, rules_path: Path | None, db: Path,
                  as_json: bool) -> None:
    """Why a stored listing gets its score and stage: every rule, selection and match."""
    from crawler.rules import testing
    from crawler.store import Store

    marketplace, _, listing_id = listing_ref.partition(":")
    if not listing_id:
        raise click.BadParameter("write MARKETPLACE:ID, e.g. bazaar:123456789012",
                                 param_hint="--listing")
    rs = _load(brand, rules_path)
    store = Store(db)
    store.migrate()
    rows = list(store.listings_for([], keys=[(marketplace, listing_id)], brand=brand))
    if not rows:
        raise UnknownListing(f"no listing {listing_ref} in {db}: list stored listings with "
                             "a sweep's summary or `sqlite-utils rows` on the store")
    row = rows[0]
    evaluation = rs.evaluate(row, full=True)
    if as_json:
        click.echo(json.dumps({"listing": listing_ref, "title": row["title"],
                               **evaluation.as_dict(),
                               "stored": {"version": row["_version"], "stage": row["_stage"],
                                          "score": row["_score"]}},
                              indent=2, ensure_ascii=False))
        return
    thresholds = ", ".join(f"{s.name} >= {s.min_score}" for s in rs.stages)
    click.echo(f"{listing_ref}  {row['title']!r}")
    click.echo(f"  price {row.get('price')} {row.get('currency') or ''}  seller "
               f"{row.get('seller')!r}  location {row.get('seller_location')!r}")
    click.echo(f"rule set {rs.path} (version {rs.version}): score {evaluation.score} -> "
               f"stage {evaluation.stage or 'none'}  ({thresholds})")
    if row["_version"] is not None:
        same = "same version" if row["_version"] == rs.version else \
            f"version {row['_version']}: run `brandsweep rules apply --brand {brand}`"
        click.echo(f"stored verdict: score {row['_score']}, stage {row['_stage'] or 'none'} "
                   f"({same})")
    for result in evaluation.results:
        if result.matched and not result.suppressed_by:
            head = f"+{result.score:<4} {result.rule}"
        elif result.matched:
            head = f"  0   {result.rule} (suppressed)"
        else:
            head = f"  -   {result.rule} (condition not met)"
        click.echo(head)
        for line in testing.explain_rule(result):
            click.echo(f"        {line}")


@rules.command("score")
@click.option("--brand", required=True, help="The brand whose rule set is scored.")
@click.option("--truth", "truth_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Labelled listings, JSON lines (python -m fixtures truth > FILE).")
@_rules_option
@click.option("--db", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Judge the listings as this store holds them (what sweeps extracted) "
                   "instead of the truth file's own fields.")
@_json_option
def rules_score(brand: str, truth_path: Path, rules_path: Path | None, db: Path | None,
                as_json: bool) -> None:
    """Precision and recall of staging counterfeits, against a labelled truth file."""
    from crawler.rules import scoring

    rs = _load(brand, rules_path)
    records = scoring.read_truth(truth_path)
    if db is not None:
        records = _as_stored(records, db, rs)
    result = scoring.score(rs, records)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
        return
    click.echo(f"{brand} (rule set version {rs.version}) on {result.listings} listings "
               f"from {truth_path}{f' as stored in {db}' if db else ''}")
    click.echo(f"  precision {result.precision:.3f}  recall {result.recall:.3f}  "
               f"(TP {result.tp}, FP {result.fp}, FN {result.fn}, TN {result.tn})")
    click.echo(f"  counterfeits by stage: {dict(result.by_stage)}; false alarms by stage: "
               f"{dict(result.by_stage_fp)}")
    for level, got in result.difficulty().items():
        click.echo(f"  {level} counterfeits: {got['staged']} of {got['counterfeits']} staged "
                   f"(recall {got['recall']:.3f})")
    if result.missed_tricks:
        click.echo(f"  missed counterfeits by trick: {dict(result.missed_tricks)}")
    for miss in result.misses[:5]:
        click.echo(f"  missed: {miss['marketplace']}:{miss['listing_id']} {miss['title']!r} "
                   f"(score {miss['score']})")
    for alarm in result.false_alarms[:5]:
        click.echo(f"  false alarm: {alarm['marketplace']}:{alarm['listing_id']} "
                   f"{alarm['title']!r} ({alarm['label']}, stage {alarm['stage']})")


def _as_stored(records: list[dict[str, Any]], db: Path, rs: Any) -> list[dict[str, Any]]:
    """Truth records with their fields replaced by what the store holds; a listing the
    store lacks keeps only its label (it cannot be staged, so it counts as missed)."""
    from crawler.store import Store

    store = Store(db)
    keys = [(str(r.get("marketplace")), str(r.get("listing_id"))) for r in records]
    stored = {(row["marketplace"], row["listing_id"]): row
              for i in range(0, len(keys), 400)
              for row in store.listings_for([], keys=keys[i:i + 400], brand=rs.brand_key)}
    out = []
    for record, key in zip(records, keys, strict=True):
        row = stored.get(key)
        base = {"label": record["label"], "keywords": record.get("keywords"),
                "marketplace": key[0], "listing_id": key[1], "tricks": record.get("tricks"),
                "difficulty": record.get("difficulty")}
        out.append({**row, **base} if row else {**base, "title": ""})
    return out


@rules.command("backtest")
@click.option("--brand", required=True, help="The brand whose stored listings are judged.")
@_rules_option
@_db_option
@click.option("--apply", "apply_", is_flag=True,
              help="Store the candidate's verdicts (otherwise nothing is written).")
@_json_option
def rules_backtest(brand: str, rules_path: Path | None, db: Path, apply_: bool,
                   as_json: bool) -> None:
    """Re-judge every stored listing with a candidate rule file and show what changes:
    newly staged, unstaged, re-staged, per rule. With --rules the candidate is that file
    and the baseline the brand's current rule set; without it the candidate is the brand's
    rule file (as edited) and the baseline the verdicts the store holds."""
    from crawler.rules import files as ruleset
    from crawler.rules import loader

    candidate = loader.load(ruleset.brand_file(brand, rules_path))
    current = loader.load(ruleset.brand_file(brand)) if rules_path else None
    report = _rejudge(db, current, candidate, apply_, as_json)
    if report is not None:
        _print_backtest(report, candidate.path, apply_)


def _rejudge(db: Path, current: Any, candidate: Any, apply: bool, as_json: bool,
             quiet: bool = False) -> Any:
    """Run a backtest; print it as JSON and return None when ``as_json`` (unless
    ``quiet``: then the caller prints)."""
    from crawler.rules import backtest
    from crawler.store import Store
    from crawler.store.db import READING_CACHE_MIB

    store = Store(db, cache_mib=READING_CACHE_MIB)
    store.migrate()
    report = backtest.backtest(store, current, candidate, apply=apply)
    if quiet:
        return report
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
        return None
    return report


def _print_backtest(report: Any, candidate_path: str, applied: bool) -> None:
    from crawler.rules.backtest import STORED

    baseline = ("against the verdicts in the store" if report.current_version == STORED
                else f"current rules {report.current_version}")
    click.echo(f"{report.brand}: {report.listings} stored listings judged in "
               f"{report.seconds:.1f}s; {baseline}, candidate "
               f"{report.candidate_version} ({candidate_path})")
    stages = sorted(set(report.stages_before) | set(report.stages_after))
    click.echo("  stage        before   after")
    for s in stages:
        click.echo(f"  {s:<12} {report.stages_before[s]:>6} {report.stages_after[s]:>7}")
    if not report.changes:
        click.echo("  no listing changes stage")
    for kind in ("newly_staged", "unstaged", "restaged"):
        if report.changes.get(kind):
            click.echo(f"  {kind.replace('_', ' ')}: {report.changes[kind]}")
            for c in report.examples.get(kind, []):
                click.echo(f"      {c.listing} {c.title!r}: {c.before or 'none'} "
                           f"({c.score_before}) -> {c.after or 'none'} ({c.score_after})")
    for rule in sorted(set(report.rules_gained) | set(report.rules_lost)):
        click.echo(f"  rule {rule}: +{report.rules_gained[rule]} listings, "
                   f"-{report.rules_lost[rule]} listings")
        for c in report.rule_examples.get(rule, []):
            click.echo(f"      {c.listing} {c.title!r}")
    click.echo(f"  stored {report.applied} verdicts" if applied else
               "  nothing stored (add --apply to store the candidate's verdicts)")


@rules.command("apply")
@click.option("--brand", required=True, help="The brand whose stored listings are judged.")
@_rules_option
@_db_option
@_json_option
def rules_apply(brand: str, rules_path: Path | None, db: Path, as_json: bool) -> None:
    """Re-judge every stored listing with the brand's rule set and store the verdicts;
    cases nobody has acted on follow their listing's new stage (an audit event each), and
    newly staged listings open cases, as after a sweep."""
    from crawler.cases import lifecycle as cases
    from crawler.store import Store

    rs = _load(brand, rules_path)
    report = _rejudge(db, rs, rs, True, as_json, quiet=True)
    synced = cases.sync(Store(db), rs.brand_key, cases.default_actor())
    if as_json:
        click.echo(json.dumps({**report.as_dict(), "cases_opened": len(synced.opened),
                               "cases_restaged": synced.restaged},
                              indent=2, ensure_ascii=False))
        return
    click.echo(f"{brand}: {report.applied} listings judged with rule set version "
               f"{rs.version} in {report.seconds:.1f}s; stages now "
               f"{dict(report.stages_after)}; cases: {len(synced.opened)} opened, "
               f"{synced.restaged} restaged")

