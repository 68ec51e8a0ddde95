"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


def db_option(fn: Any) -> Any:
    return click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
                        envvar="BRANDSWEEP_DB", default="brandsweep.db", show_default=True,
                        help="The SQLite store (env BRANDSWEEP_DB).")(fn)
