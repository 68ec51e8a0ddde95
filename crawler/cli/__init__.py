"""The ``brandsweep`` command: parses options, calls the library, prints results.

Exit codes: 0 ok, 1 error, 2 bad usage or configuration, 3 partial (a marketplace was
blocked or its extraction failed), 75 a sweep for the brand is already running.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import MutableMapping
from typing import Any

import click

from crawler import __version__
from crawler.exceptions import BrandsweepError

DEBUG_ENV = "BRANDSWEEP_DEBUG"


# name -> (module of crawler.cli, attribute) of every command: a command's module is
# imported when that command runs (or the commands are listed), so `review list` does not
# import the sweep's Scrapy settings, the workbench or the worker to start
COMMANDS = {
    "sweep": ("sweep", "sweep"), "crawl": ("sweep", "crawl"),
    "marketplaces": ("marketplaces", "marketplaces"), "browser": ("browser", "browser"),
    "demo": ("demo", "demo"), "rules": ("rules", "rules"), "review": ("review", "review"),
    "notices": ("notices", "notices"), "evidence": ("evidence", "evidence"),
    "verify": ("verify", "verify"), "schedule": ("schedule", "schedule"),
    "report": ("report", "report"), "notify": ("notify", "notify"),
    "outcomes": ("outcomes", "outcomes"), "serve": ("serve", "serve"),
    "browse": ("serve", "browse"), "listings": ("listings", "listings"),
    "store": ("store", "store_group"), "worker": ("worker", "worker"),
    "queue": ("queue", "queue_group"),
}


class BrandsweepGroup(click.Group):
    """Turns our own exceptions into one-line errors with their documented exit code.

    Anything else is a bug of ours: it is one line saying so (exit 1) too, so cron mail
    and CI logs stay readable, unless ``BRANDSWEEP_DEBUG=1`` or ``-v`` asks for the
    traceback. Bad input must never rely on this: it has exceptions of its own.

    The commands of ``COMMANDS`` are loaded when first asked for; ``commands`` is all of
    them, loaded, for whoever walks them (help, the docs tests).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._lazy: dict[str, tuple[str, str]] = {}
        super().__init__(*args, **kwargs)

    @property
    def commands(self) -> MutableMapping[str, click.Command]:
        for name in list(self._lazy):
            self._load(name)
        return self._commands

    @commands.setter
    def commands(self, value: MutableMapping[str, click.Command]) -> None:
        self._commands = value

    def lazy(self, commands: dict[str, tuple[str, str]]) -> None:
        """Register ``commands`` (name -> (module of crawler.cli, attribute)) unloaded."""
        self._lazy.update(commands)

    def _load(self, name: str) -> None:
        module, attribute = self._lazy.pop(name)
        command = getattr(importlib.import_module(f"crawler.cli.{module}"), attribute)
        self._commands[name] = command

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._lazy:
            self._load(cmd_name)
        return self._commands.get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.commands)

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


cli.lazy(COMMANDS)
