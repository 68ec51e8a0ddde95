"""A live progress line per marketplace while a sweep runs, on a terminal only.

Cron and pipes get nothing (they read the summary); a person at a TTY sees each
marketplace's pages, listings and state update a few times a second on stderr.
"""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table


class Progress:
    """Renders the health of each crawler's spider until ``stop``."""

    def __init__(self, crawlers: list[tuple[str, Any]], force: bool = False) -> None:
        self.crawlers = crawlers
        self.live: Live | None = None
        if force or sys.stderr.isatty():
            self.live = Live(get_renderable=self._table, console=Console(stderr=True),
                             refresh_per_second=4, transient=True)

    def _table(self) -> Table:
        table = Table(box=None, pad_edge=False, show_header=False)
        for name, crawler in self.crawlers:
            spider = getattr(crawler, "spider", None)
            health = getattr(spider, "health", None)
            if health is None:
                table.add_row(name, "starting")
                continue
            pages = health.pages["http"] + health.pages["browser"]
            mode = "browser" if health.pages["browser"] else "http"
            state = "running" if health.status == "ok" else health.status.replace("_", " ")
            table.add_row(name, f"{pages} pages", f"{health.listings} listings", mode, state)
        return table

    def start(self) -> None:
        if self.live is not None:
            self.live.start()

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
