"""The ``brandsweep`` command: parses options, calls the library, prints results.

Exit codes: 0 ok, 1 error, 2 bad usage or configuration, 3 partial (a marketplace was
blocked or its extraction failed), 75 a sweep for the brand is already running.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from crawler import __version__
from crawler.cli.options import db_option as _db_option
from crawler.cli.options import marketplaces_dir_option as _marketplaces_dir_option
from crawler.exceptions import BrandsweepError

DEBUG_ENV = "BRANDSWEEP_DEBUG"


class BrandsweepGroup(click.Group):
    """Turns our own exceptions into one-line errors with their documented exit code.

    Anything else is a bug of ours: it is one line saying so (exit 1) too, so cron mail
    and CI logs stay readable, unless ``BRANDSWEEP_DEBUG=1`` or ``-v`` asks for the
    traceback. Bad input must never rely on this: it has exceptions of its own.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["brandsweep.args"] = list(args)  # to see a subcommand's -v on a crash
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        args: list[str] = ctx.meta.get("brandsweep.args", [])
        try:
            return super().invoke(ctx)
        except BrandsweepError as exc:
            click.echo(f"Error: {' '.join(str(exc).split())}", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            debug = os.environ.get(DEBUG_ENV, "") not in ("", "0") or any(
                a in ("--verbose", "--debug") or (a.startswith("-v") and set(a[1:]) == {"v"})
                for a in args)
            if debug:
                raise
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            click.echo(f"Error: internal error ({type(exc).__name__}: {first}); please "
                       f"report it, with the traceback that {DEBUG_ENV}=1 shows", err=True)
            ctx.exit(1)


@click.group(cls=BrandsweepGroup)
@click.version_option(__version__, prog_name="brandsweep")
def cli() -> None:
    """Sweep marketplaces for a brand's keywords, score suspect listings with YAML rule
    sets, and draft takedown notices into a local SQLite store."""




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
        click.option("--json", "as_json", is_flag=True,
                     help="Print one JSON summary object on stdout."),
        click.option("--notify", "notify_urls", multiple=True, metavar="URL",
                     help="Send the sweep's digest to this apprise URL (repeatable; the "
                          "default triggers; see README, Notifications)."),
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

    from crawler import summary
    from crawler.store import check_path
    from crawler.sweep import SweepPlan, run

    check_path(plan_kwargs["db"])  # before the sweep's lock, which lives next to it

    plan = SweepPlan(log_level={0: None, 1: "INFO"}.get(verbose, "DEBUG"), **plan_kwargs)
    result = run(plan)
    if result.notified is not None and result.notified.line():
        click.echo(f"brandsweep: {result.notified.line()}", err=True)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2, sort_keys=True))
    else:
        for line in summary.text(result, str(plan.db)):
            click.echo(line)
    sys.exit(result.exit_code)


@cli.command()
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
          deadline: float | None, as_json: bool, notify_urls: tuple[str, ...],
          verbose: int) -> None:
    """Sweep marketplaces for a brand's keywords and store every listing found; then
    stage cases, capture their evidence and draft notices."""
    from crawler import profiles, ruleset
    from crawler.rules import loader

    words = ruleset.keywords(brand, rules_path)
    judge = loader.load(ruleset.brand_file(brand, rules_path))
    every = profiles.load_profiles(list(marketplaces_dir))
    chosen = profiles.select(every, list(marketplace_names))
    _run_sweep({"kind": "sweep", "brand": brand, "campaign": None, "keywords": words,
                "profiles": chosen, "max_pages": max_pages, "db": db, "timeout": timeout,
                "deadline": deadline,
                "ruleset": judge, "evidence": evidence, "draft": draft,
                "all_profiles": every, "notify": _channels(judge, notify_urls)},
               as_json, verbose)


@cli.command()
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
          deadline: float | None, as_json: bool, notify_urls: tuple[str, ...],
          verbose: int) -> None:
    """One-off crawl: ad-hoc keywords on chosen marketplaces, tagged with a campaign."""
    from crawler import profiles

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
        from crawler import ruleset
        from crawler.rules import loader

        judge = loader.load(ruleset.brand_file(brand))
    _run_sweep({"kind": "crawl", "brand": brand, "campaign": campaign, "keywords": words,
                "profiles": chosen, "max_pages": max_pages, "db": db, "timeout": timeout,
                "deadline": deadline,
                "ruleset": judge, "notify": _channels(judge, notify_urls)}, as_json, verbose)


@cli.group()
def marketplaces() -> None:
    """List marketplace profiles and check them against a live search page."""


@marketplaces.command("list")
@_marketplaces_dir_option
def marketplaces_list(marketplaces_dir: tuple[Path, ...]) -> None:
    """Show every marketplace profile brandsweep knows."""
    from crawler import profiles

    for p in profiles.load_profiles(list(marketplaces_dir)).values():
        click.echo(f"{p.name:<12} {p.search.render:<8} {p.search.pagination.kind:<16} "
                   f"{p.notice_program:<12} {p.base_url}  ({p.source})")


@marketplaces.command("check")
@click.argument("name")
@click.option("--keyword", required=True, help="The keyword to search for.")
@click.option("--browser/--http", "use_browser", default=None,
              help="Force the browser or plain HTTP (default: the profile's render mode).")
@click.option("--detail", is_flag=True,
              help="Also fetch the first card's own page and show every detail field.")
@_marketplaces_dir_option
def marketplaces_check(name: str, keyword: str, use_browser: bool | None, detail: bool,
                       marketplaces_dir: tuple[Path, ...]) -> None:
    """Fetch one search page and show what each selector extracted (a price also as
    brandsweep reads it); with --detail, the first listing's own page too."""
    from crawler import check, profiles

    profile = profiles.select(profiles.load_profiles(list(marketplaces_dir)), [name])[0]
    report = check.run(profile, keyword, use_browser, detail=detail)
    for line in report.lines():
        click.echo(line)
    sys.exit(report.exit_code)


@cli.command()
@click.option("--install", is_flag=True,
              help="Install Chromium if none is found (apt-get as root on Debian, "
                   "otherwise playwright install chromium).")
def browser(install: bool) -> None:
    """Show the Chromium binary brandsweep uses for pages that need a browser."""
    from crawler.browser import ensure_chromium

    click.echo(ensure_chromium(install=install))


@cli.command()
@click.option("--seed", default=7, show_default=True, help="Fixture catalogue seed.")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
              default="demo/brandsweep-demo.db", show_default=True,
              help="The demo's own store, kept apart from your real one; its evidence "
                   "and reports are written beside it.")
def demo(seed: int, db: Path) -> None:
    """Start the fixture marketplaces and sweep the demo brands against them."""
    from crawler.demo import run

    sys.exit(run(click.echo, db, seed=seed))


from crawler.cli import cases as _cases  # noqa: E402  (registers the subcommands)
from crawler.cli import notify as _notify  # noqa: E402
from crawler.cli import rules as _rules  # noqa: E402
from crawler.cli import schedule as _schedule  # noqa: E402

cli.add_command(_rules.rules)
for _command in (_cases.review, _cases.notices, _cases.evidence, _cases.verify,
                 _schedule.schedule, _schedule.report, _notify.notify):
    cli.add_command(_command)
from crawler.cli import serve as _serve  # noqa: E402, F401  (serve, browse, listings, store)
