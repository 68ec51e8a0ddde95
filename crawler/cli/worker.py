"""``brandsweep worker``: fetch and read the requests of distributed sweeps."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from crawler.cli.options import marketplaces_dir_option


@click.command()
@click.option("--redis", "redis_url", required=True, metavar="URL", envvar="BRANDSWEEP_REDIS",
              help="The Redis the coordinators share (redis://HOST:PORT/DB; "
                   "BRANDSWEEP_REDIS).")
@marketplaces_dir_option
@click.option("--concurrency", type=click.IntRange(1, 256), default=8, show_default=True,
              help="Requests in flight at once, all marketplaces together (each "
                   "marketplace's own limit holds across all workers anyway).")
@click.option("--idle-exit", type=click.FloatRange(0.1, None), metavar="SECONDS",
              help="End after this long with nothing to do (default: run until stopped).")
@click.option("--lease", "lease_seconds", type=click.FloatRange(1, 3600), default=60.0,
              show_default=True,
              help="How long a request stays ours without renewal: a killed worker's "
                   "requests go to others after this long.")
@click.option("--id", "worker_id", metavar="NAME",
              help="This worker's name in Redis (default: HOST-PID).")
@click.option("-v", "--verbose", count=True, help="Scrapy's log: -v info, -vv debug.")
def worker(redis_url: str, marketplaces_dir: tuple[Path, ...], concurrency: int,
           idle_exit: float | None, lease_seconds: float, worker_id: str | None,
           verbose: int) -> None:
    """Fetch and read the pages of distributed sweeps (`sweep --redis`) until stopped
    (SIGTERM / Ctrl-C: requests in flight finish or go back to the queue).

    Exit codes: 0 stopped or idle, 1 Redis lost while working, 2 Redis unavailable at
    start or bad options."""
    from crawler.distributed.worker import Worker, WorkerOptions
    from crawler.profiles.loading import load_profiles

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s brandsweep worker: %(message)s"))
    for name in ("brandsweep.worker", "spiders.distributed"):
        log = logging.getLogger(name)
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    options = WorkerOptions(redis_url=redis_url, concurrency=concurrency,
                            idle_exit=idle_exit, lease_seconds=lease_seconds,
                            log_level={0: None, 1: "INFO"}.get(verbose, "DEBUG"))
    if worker_id:
        options.worker_id = worker_id
    try:
        work = Worker(options, load_profiles(list(marketplaces_dir)))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    work.connect()
    click.echo(f"brandsweep worker {options.worker_id}: working for {redis_url} "
               f"(concurrency {concurrency})", err=True)
    report = work.run()
    click.echo(f"brandsweep: {report.line()}", err=True)
    if report.problem:
        click.echo(f"Error: {report.problem}", err=True)
    sys.exit(report.exit_code)
