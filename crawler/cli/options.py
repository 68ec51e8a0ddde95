"""Options shared by several commands, and opening the store they name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from crawler.exceptions import NoStore


def db_option(fn: Any) -> Any:
    return click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
                        envvar="BRANDSWEEP_DB", default="brandsweep.db", show_default=True,
                        help="The SQLite store (env BRANDSWEEP_DB).")(fn)


def rules_option(fn: Any) -> Any:
    return click.option("--rules", "rules_path", type=click.Path(exists=True,
                                                                 path_type=Path),
                        help="A rule set file, or a folder holding <brand>.yaml "
                             "(default: ./rules, or BRANDSWEEP_RULES).")(fn)


def json_option(fn: Any) -> Any:
    return click.option("--json", "as_json", is_flag=True,
                        help="Print JSON on stdout.")(fn)


def _default_actor() -> str:
    # imported when the option's default is wanted, not when the CLI starts: the cases
    # package pulls in the store and sqlite-utils, which `--version` or `--help` never need
    from crawler.cases.lifecycle import default_actor

    return default_actor()


def by_option(fn: Any) -> Any:
    return click.option("--by", default=_default_actor, show_default="the OS user",
                        help="Who is doing this, for the audit trail.")(fn)


def marketplaces_dir_option(fn: Any) -> Any:
    return click.option("--marketplaces", "marketplaces_dir", multiple=True,
                        type=click.Path(file_okay=False, exists=True, path_type=Path),
                        help="A folder of your own marketplace profiles (repeatable).")(fn)


def open_store(db: Path) -> Any:
    """The store at ``db``, which must exist already (commands that only read it)."""
    from crawler.store import Store

    if not db.is_file():
        raise NoStore(f"no store at {db}: run `brandsweep sweep --brand NAME --db {db}` "
                      "first, or pass --db (or BRANDSWEEP_DB)")
    from crawler.store.db import READING_CACHE_MIB

    store = Store(db, cache_mib=READING_CACHE_MIB)
    store.migrate()
    return store


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True, default=str))


def short(text: str | None, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[:width - 1] + "…"

