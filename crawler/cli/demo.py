"""``brandsweep demo``: start the fixture marketplaces and sweep the demo brands there.

The sweeps run as ``brandsweep sweep`` in child processes, exactly as a user runs them,
against the fixture marketplaces this process serves on a free loopback port.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import click

from crawler.exceptions import BrandsweepError, FixturesUnavailable

DEMO_BRANDS = ("acme", "velora")


def run(echo: Callable[[str], None], db: Path, seed: int = 7) -> int:
    """Serve the fixtures, sweep each demo brand into ``db``; return the worst exit code."""
    from fixtures.server import FixtureServer, health

    script = Path(sys.executable).with_name("brandsweep")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "crawler"]
    # the store, its evidence folder and the reports share one folder (ignored by git)
    db.parent.mkdir(parents=True, exist_ok=True)
    with FixtureServer(port=0, seed=seed) as server:
        try:
            health(server.url)
        except OSError as exc:
            raise FixturesUnavailable(f"fixture marketplaces at {server.url} did not answer "
                                      f"({exc}); run `python -m fixtures serve` to see why"
                                      ) from exc
        echo(f"fixture marketplaces on {server.url} (seed {seed}, "
             f"{len(server.app.catalogue.listings)} listings); store: {db}")
        env = dict(os.environ, BRANDSWEEP_FIXTURE_URL=server.url)
        worst = 0
        for brand in DEMO_BRANDS:
            echo(f"$ brandsweep sweep --brand {brand} --db {db}")
            done = subprocess.run([*command, "sweep", "--brand", brand, "--db", str(db)],
                                  env=env, capture_output=True, text=True, check=False)
            for line in (done.stdout + done.stderr).splitlines():
                echo(line)
            if done.returncode not in (0, 3):
                raise BrandsweepError(f"the demo sweep of {brand} failed (exit "
                                      f"{done.returncode}); see the lines above")
            worst = max(worst, done.returncode)
            page = db.with_name(f"{db.stem}-{brand}-report.html")
            shown = subprocess.run([*command, "report", "--last", "--format", "html",
                                    "--out", str(page), "--db", str(db)],
                                   capture_output=True, text=True, check=False)
            if shown.returncode != 0:
                raise BrandsweepError(f"the report of {brand}'s demo sweep failed: "
                                      f"{shown.stderr.strip()}")
            echo(f"report: {page} (open it in a browser)")
    return worst


@click.command()
@click.option("--seed", default=7, show_default=True, help="Fixture catalogue seed.")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
              default="demo/brandsweep-demo.db", show_default=True,
              help="The demo's own store, kept apart from your real one; its evidence "
                   "and reports are written beside it.")
def demo(seed: int, db: Path) -> None:
    """Start the fixture marketplaces and sweep the demo brands against them."""
    sys.exit(run(click.echo, db, seed=seed))

