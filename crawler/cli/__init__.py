"""The ``brandsweep`` command: parses options, calls the library, prints results.

Exit codes: 0 ok, 1 error, 2 bad usage or configuration, 3 partial (a marketplace was
blocked or its extraction failed), 75 a sweep for the brand is already running.
"""

from __future__ import annotations

import os
from typing import Any

import click

from crawler import __version__
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


def _register() -> None:
    """Every command group, one module each (imported here: they import nothing back)."""
    from crawler.cli import (
        browser,
        demo,
        evidence,
        listings,
        marketplaces,
        notices,
        notify,
        outcomes,
        queue,
        report,
        review,
        rules,
        schedule,
        serve,
        store,
        sweep,
        verify,
        worker,
    )

    for command in (sweep.sweep, sweep.crawl, marketplaces.marketplaces, browser.browser,
                    demo.demo, rules.rules, review.review, notices.notices,
                    evidence.evidence, verify.verify, schedule.schedule, report.report,
                    notify.notify, outcomes.outcomes, serve.serve, serve.browse, listings.listings,
                    store.store_group, worker.worker,
                    queue.queue_group):
        cli.add_command(command)


_register()
