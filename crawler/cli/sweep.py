"""``brandsweep sweep`` (a brand's keywords) and ``crawl`` (a one-off campaign)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from crawler.cli.options import db_option as _db_option
from crawler.cli.options import marketplaces_dir_option as _marketplaces_dir_option


def _crawl_options(fn: Any) -> Any:
    options: list[Any] = [
        click.option("--max-pages", type=click.IntRange(1, 1000),
                     help="Result pages per keyword and marketplace (default: profile's)."),
        _db_option,
        _marketplaces_dir_option,
        click.option("--timeout", type=click.FloatRange(1, 600),
                     help="Download timeout per page attempt, seconds (default 30)."),
        click.option("--deadline", type=click.FloatRange(1, None),
                     help="Longest crawl of one marketplace, seconds (default 3600); one "
                          "still running then ends FAILED: deadline."),
        click.option("--notify", "notify_urls", multiple=True, metavar="URL",
                     help="Send the sweep's digest to this apprise URL (repeatable; the "
                          "default triggers; see README, Notifications)."),
        click.option("--redis", "redis_url", metavar="URL", envvar="BRANDSWEEP_REDIS",
                     help="Sweep through the workers sharing this Redis (redis://HOST:PORT/DB"
                          "; BRANDSWEEP_REDIS); this process stores and follows up. See "
                          "README, Distributed sweeps."),
        click.option("--json", "as_json", is_flag=True,
                     help="Print one JSON summary object on stdout."),
        click.option("-v", "--verbose", count=True, help="Scrapy's log: -v info, -vv debug."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _channels(ruleset: Any, urls: tuple[str, ...]) -> list[Any]:
    """The sweep's notification channels (crawler.notify.config.for_run)."""
    from crawler.notify import config

    return config.for_run(config.channels(getattr(ruleset, "notify", None)), urls)


def _run_sweep(plan_kwargs: dict[str, Any], as_json: bool, verbose: int) -> None:
    import json

    from crawler.store import check_path
    from crawler.sweep import summary
    from crawler.sweep.run import SweepPlan, run

    check_path(plan_kwargs["db"])  # before the sweep's lock, which lives next to it

    plan = SweepPlan(log_level={0: None, 1: "INFO"}.get(verbose, "DEBUG"), **plan_kwargs)
    if plan.redis:  # what the coordinator has to say (no worker running, say)
        import logging

        said = logging.getLogger("brandsweep.coordinator")
        said.addHandler(logging.StreamHandler(sys.stderr))
        said.propagate = False
    result = run(plan)
    if result.notified is not None and result.notified.line():
        click.echo(f"brandsweep: {result.notified.line()}", err=True)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2, sort_keys=True))
    else:
        for line in summary.text(result, str(plan.db)):
            click.echo(line)
    sys.exit(result.exit_code)


@click.command()
@click.option("--brand", required=True, help="Brand whose rule set gives the keywords.")
@click.option("--marketplace", "marketplace_names", multiple=True,
              help="Only this marketplace (repeatable; default: all profiles).")
@click.option("--rules", "rules_path", type=click.Path(exists=True, path_type=Path),
              help="A rule set file, or a folder holding <brand>.yaml (default: ./rules, "
                   "or BRANDSWEEP_RULES).")
@click.option("--evidence/--no-evidence", default=True, show_default=True,
              help="Capture screenshot and HTML evidence for new cases.")
@click.option("--draft/--no-draft", "draft", default=True, show_default=True,
              help="Draft notices for the cases the rule set drafts automatically.")
@_crawl_options
def sweep(brand: str, marketplace_names: tuple[str, ...], rules_path: Path | None,
          evidence: bool, draft: bool, max_pages: int | None, db: Path,
          marketplaces_dir: tuple[Path, ...], timeout: float | None,
          deadline: float | None, notify_urls: tuple[str, ...], redis_url: str | None,
          as_json: bool, verbose: int) -> None:
    """Sweep marketplaces for a brand's keywords and store every listing found; then
    stage cases, capture their evidence and draft notices."""
    from crawler.profiles import loading as profiles
    from crawler.rules import files as ruleset
    from crawler.rules import loader

    words = ruleset.keywords(brand, rules_path)
    judge = loader.load(ruleset.brand_file(brand, rules_path))
    every = profiles.load_profiles(list(marketplaces_dir))
    chosen = profiles.select(every, list(marketplace_names))
    _run_sweep({"kind": "sweep", "brand": brand, "campaign": None, "keywords": words,
                "profiles": chosen, "max_pages": max_pages, "db": db, "timeout": timeout,
                "deadline": deadline,
                "ruleset": judge, "evidence": evidence, "draft": draft,
                "all_profiles": every, "notify": _channels(judge, notify_urls),
                "redis": redis_url},
               as_json, verbose)


@click.command()
@click.option("--campaign", required=True, help="Tag stored listings with this campaign.")
@click.option("--keyword", "keywords", multiple=True, required=True,
              help="A search keyword (repeatable).")
@click.option("--marketplace", "marketplace_names", multiple=True, required=True,
              help="A marketplace to search (repeatable).")
@click.option("--brand", help="The brand the campaign is for (recorded with the sweep).")
@_crawl_options
def crawl(campaign: str, keywords: tuple[str, ...], marketplace_names: tuple[str, ...],
          brand: str | None, max_pages: int | None, db: Path,
          marketplaces_dir: tuple[Path, ...], timeout: float | None,
          deadline: float | None, notify_urls: tuple[str, ...], redis_url: str | None,
          as_json: bool, verbose: int) -> None:
    """One-off crawl: ad-hoc keywords on chosen marketplaces, tagged with a campaign."""
    from crawler.profiles import loading as profiles

    chosen = profiles.select(profiles.load_profiles(list(marketplaces_dir)),
                             list(marketplace_names))
    from crawler.rules.model import searchable

    blank = [k for k in keywords if not searchable(k)]
    if blank:
        raise click.BadParameter(f"{blank[0]!r} has no letter or digit: a search for it "
                                 "finds nothing", param_hint="--keyword")
    words = list(dict.fromkeys(" ".join(k.split()) for k in keywords))
    judge = None
    if brand:  # a campaign for a brand is judged by the brand's rule set
        from crawler.rules import files as ruleset
        from crawler.rules import loader

        judge = loader.load(ruleset.brand_file(brand))
    _run_sweep({"kind": "crawl", "brand": brand, "campaign": campaign, "keywords": words,
                "profiles": chosen, "max_pages": max_pages, "db": db, "timeout": timeout,
                "deadline": deadline,
                "ruleset": judge, "notify": _channels(judge, notify_urls),
                "redis": redis_url}, as_json, verbose)

