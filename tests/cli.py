"""Running the real ``brandsweep`` script against a fixture server, and reading what it
stored: shared by the end-to-end test modules."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from fixtures.server import FixtureServer

SCRIPT = str(Path(sys.executable).with_name("brandsweep"))


def run(server: FixtureServer, *args: str, timeout: float = 400
        ) -> subprocess.CompletedProcess[str]:
    """``brandsweep ARGS`` with the profiles pointed at ``server``."""
    env = dict(os.environ, BRANDSWEEP_FIXTURE_URL=server.url)
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def rows(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """What ``sql`` finds in the store file ``db``."""
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()
