"""``brandsweep schedule run JOB``: what cron calls.

Each brand of the job is swept by ``brandsweep sweep`` in a child process (one Scrapy
reactor per process, and a crash stays in its child). Everything is appended to the job's
rotating log file; each sweep's HTML report is written next to it. stdout, which cron
mails, stays empty unless a person must look: then one line per problem.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass, field
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

from crawler.files import create_file, make_folders
from scheduling.schedule import Schedule, resolve

LOG_BYTES = 5 * 1024 * 1024
LOG_BACKUPS = 5


@dataclass
class JobResult:
    exit_code: int = 0
    problems: list[str] = field(default_factory=list)
    reports: list[Path] = field(default_factory=list)


def run(schedule: Schedule, schedule_file: Path, job_name: str) -> JobResult:
    job = schedule.job(job_name, schedule_file)
    logs = resolve(schedule_file, schedule.logs)
    make_folders(logs)
    log = _logger(logs / f"{job.name}.log", job.name)
    db = resolve(schedule_file, schedule.db)
    result = JobResult()
    log.info("job %s starts: brands %s, store %s", job.name, ", ".join(job.brands), db)
    from crawler.notify import config as notify_config

    # the sweep merges these with its rule set's own; an environment variable keeps the
    # URLs' tokens off the command line
    channels = notify_config.Channels().add(schedule.notify).add(job.notify)
    notify_env = {notify_config.ENV: channels.to_json()} if len(channels) else {}
    # in the environment, not on the command line, where ps would show its password
    redis = schedule.redis if job.redis is None else job.redis
    redis_env = {"BRANDSWEEP_REDIS": redis} if redis else {}
    for brand in job.brands:
        args = [sys.executable, "-m", "crawler", "sweep", "--brand", brand, "--db", str(db),
                "--json"]
        for market in job.marketplaces:
            args += ["--marketplace", market]
        if schedule.rules:
            args += ["--rules", str(resolve(schedule_file, schedule.rules))]
        for folder in schedule.marketplaces:
            args += ["--marketplaces", str(resolve(schedule_file, folder))]
        if job.max_pages:
            args += ["--max-pages", str(job.max_pages)]
        if not job.draft:
            args.append("--no-draft")
        if not job.evidence:
            args.append("--no-evidence")
        # PYTHONSAFEPATH: the child runs in the schedule's folder, whose own ``crawler``
        # module (if it has one) must not be run in place of ours
        done = subprocess.run(args, capture_output=True, text=True, check=False,
                              env={**os.environ, **job.env, **notify_env, **redis_env,
                                   "PYTHONSAFEPATH": "1"})
        for line in done.stderr.splitlines():
            log.info("%s: %s", brand, line)
        code = done.returncode
        summary = _json(done.stdout)
        if summary is not None:
            log.info("%s: sweep %s %s in %ss; cases %s", brand, summary.get("sweep_id"),
                     summary.get("status"), summary.get("elapsed_seconds"),
                     json.dumps(summary.get("cases"), sort_keys=True))
            try:
                result.reports.append(_report(db, int(summary["sweep_id"]), logs, job.name))
            except Exception as exc:  # a report must never hide the sweep's own outcome
                log.exception("%s: report failed", brand)
                result.problems.append(f"{job.name}/{brand}: the report failed: {exc}")
        if code != 0:
            last = (done.stderr.strip().splitlines() or [f"exit {code}"])[-1]
            if summary is not None:
                bad = [f"{m} {h['status']}" for m, h in summary["marketplaces"].items()
                       if h["status"] != "ok"]
                last = str(summary.get("problem") or ", ".join(bad) or last)
            result.problems.append(f"{job.name}/{brand}: exit {code}: {last} (log: "
                                   f"{logs / (job.name + '.log')})")
            log.warning("%s: exit %s: %s", brand, code, last)
            result.exit_code = _worse(result.exit_code, code)
    log.info("job %s ends: exit %s", job.name, result.exit_code)
    return result


def _report(db: Path, sweep_id: int, logs: Path, job: str) -> Path:
    from crawler.files import write_whole
    from crawler.reports.build import build
    from crawler.store import Store

    html = build(Store(db), sweep_id, "html")
    path = logs / f"{job}-sweep-{sweep_id}.html"
    write_whole(path, html.encode())
    return path


def _worse(a: int, b: int) -> int:
    """The exit code that needs a person more: errors, then locked, then partial."""
    rank = {0: 0, 3: 1, 75: 2}
    return max(a, b, key=lambda c: rank.get(c, 3))


def _json(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _logger(path: Path, name: str) -> logging.Logger:
    log = logging.getLogger(f"brandsweep.schedule.{name}")
    log.setLevel(logging.INFO)
    log.propagate = False
    if not log.handlers:
        create_file(path)  # our mode, not the umask's (rotated files keep it)
        handler = RotatingFileHandler(path, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
    return log
