"""The schedule file (``schedule.yaml``): the sweeps cron runs, validated like rule sets
(every problem as ``path:line:col: message``)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from croniter import CroniterBadDateError, croniter
from crontab import CronSlices
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from crawler import yamlfile
from crawler.exceptions import ConfigError
from crawler.notify.config import NotifySetting
from crawler.rules.files import BRAND_NAME

DEFAULT_FILE = Path("schedule.yaml")

# What ends a line for cron, python-crontab (str.splitlines) or a C string, and the other
# control characters no name, path or value in a crontab line has a reason to hold.
_LINE_BREAKING = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_CHAR_NAMES = {"\n": "a newline", "\r": "a carriage return", "\x00": "a NUL"}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Variables that choose which program or code runs: the interpreter's (every PYTHON*, e.g.
# PYTHONPATH undoes PYTHONSAFEPATH, PYTHONPYCACHEPREFIX feeds it bytecode), the loader's,
# the shell's, the ones of the programs a sweep starts (Playwright's node, Chromium) and
# the ones naming a module to import. The job's own command decides those, not the file.
_CODE_ENV = re.compile(r"PYTHON.*|LD_.*|BASH_ENV|ENV|PATH|IFS|SHELL|SHELLOPTS|BASHOPTS|"
                       r"PERL5LIB|PERL5OPT|PERLLIB|NODE_OPTIONS|NODE_PATH|GCONV_PATH|"
                       r"PLAYWRIGHT_BROWSERS_PATH|PLAYWRIGHT_NODEJS_PATH|"
                       r"SCRAPY_SETTINGS_MODULE|BRANDSWEEP_CHROMIUM")
# "0 0 29 2 *" waits up to 8 years (no February 29 in 2100); beyond this, it never fires
_FIRES_WITHIN_YEARS = 10


def line_breaker(text: str) -> str | None:
    """What in ``text`` cannot go into one crontab line (``a newline``...), or None."""
    m = _LINE_BREAKING.search(text)
    if m is None:
        return None
    return _CHAR_NAMES.get(m[0], f"the control character {m[0]!r}")


def shown(text: str) -> str:
    """``text`` for a one-line message: control characters written as escapes."""
    return _LINE_BREAKING.sub(lambda m: repr(m[0])[1:-1], text)


def _one_line(value: str) -> str:
    found = line_breaker(value)
    if found:
        raise ValueError(f"{value!r} holds {found}, which no crontab or command line "
                         "can carry; remove it")
    return value


def _env_name(value: str) -> str:
    if not _ENV_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not an environment variable name: letters, digits "
                         "and _, not starting with a digit")
    if _CODE_ENV.fullmatch(value):
        raise ValueError(f"{value!r} would change which program or code the job runs, "
                         "which brandsweep's own command decides; remove it")
    return value


def _brand(value: str) -> str:
    if not BRAND_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a brand name, the name of its rule set file "
                         "(rules/<brand>.yaml): lower case letters, digits, - and _, "
                         "starting with a letter or digit")
    return value


OneLine = Annotated[str, AfterValidator(_one_line)]
EnvName = Annotated[str, AfterValidator(_env_name)]
Brand = Annotated[str, AfterValidator(_one_line), AfterValidator(_brand)]


def _redis_url(value: str) -> str:
    if not value.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(f"{value!r} is not a Redis URL: redis://HOST:PORT/DB, "
                         "rediss://... (TLS) or unix:///path/to/redis.sock")
    return value


RedisUrl = Annotated[str, AfterValidator(_one_line), AfterValidator(_redis_url)]


class Job(BaseModel):
    """One cron job: sweep these brands on these marketplaces on this schedule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    brands: list[Brand] = Field(min_length=1)
    cron: str  # five fields, e.g. "15 */4 * * *"
    marketplaces: list[OneLine] = []  # empty: every profile
    max_pages: int | None = Field(default=None, ge=1, le=1000)
    draft: bool = True  # draft notices for the stages the rule set drafts automatically
    evidence: bool = True
    # extra environment for the job (cron starts almost empty); quoted into the crontab line
    env: dict[EnvName, OneLine] = {}
    # this job's digests go here too, besides the schedule's own notify (crawler.notify)
    notify: NotifySetting | None = None
    # sweep through the workers of this Redis (distributed sweeps); "" for a local sweep
    # when the schedule names one
    redis: RedisUrl | Literal[""] | None = None

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        # croniter computes the next runs, python-crontab writes the line: both must read
        # it, and neither cron nor python-crontab knows croniter's extras (L, W, #, ?)
        if (line_breaker(value) or len(value.split()) != 5 or not croniter.is_valid(value)
                or not CronSlices.is_valid(value)):
            raise ValueError(f"{value!r} is not a five-field cron expression "
                             "(minute hour day-of-month month day-of-week: numbers, names, "
                             "ranges, lists and steps)")
        try:
            croniter(value, datetime.now(),
                     max_years_between_matches=_FIRES_WITHIN_YEARS).get_next(datetime)
        except CroniterBadDateError:
            raise ValueError(f"{value!r} never fires (in the next {_FIRES_WITHIN_YEARS} "
                             "years), e.g. a day the month does not have; check the day "
                             "and month fields") from None
        return value


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    db: OneLine = "brandsweep.db"  # relative to the schedule file's folder
    rules: OneLine | None = None  # a rules folder, relative to the schedule file's folder
    marketplaces: list[OneLine] = []  # extra profile folders, relative likewise
    logs: OneLine = "logs"  # log files and HTML reports, relative likewise
    notify: NotifySetting | None = None  # every job's digests (crawler.notify)
    redis: RedisUrl | None = None  # every job sweeps through this Redis's workers
    jobs: list[Job]

    @field_validator("jobs")
    @classmethod
    def _unique(cls, value: list[Job]) -> list[Job]:
        if not value:
            raise ValueError("the schedule has no jobs, so there is nothing to install; "
                             "add one")
        names = [j.name for j in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"job names must be unique: {', '.join(dupes)}")
        return value

    def job(self, name: str, path: Path) -> Job:
        for job in self.jobs:
            if job.name == name:
                return job
        raise ConfigError([f"{path}: no job {name!r}"
                           f"{yamlfile.hint(name, [j.name for j in self.jobs])}; jobs are "
                           f"{', '.join(j.name for j in self.jobs)}"])


def check_path(path: Path, what: str = "the schedule file") -> Path:
    """``path`` made absolute (symlinks resolved), or ``ConfigError`` if it, or what it
    resolves to, holds a character that cannot go into a crontab line."""
    for candidate in (str(path), str(path.absolute())):
        found = line_breaker(candidate)
        if found:
            raise ConfigError([f"{shown(candidate)}: the path of {what} holds {found}; "
                               "cron cannot run a job from there: rename or move it"])
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise ConfigError([f"{shown(str(path))}: cannot follow {what}'s symlinks ({exc}); "
                           "point it at a real file"]) from exc
    if resolved != path.absolute():
        return check_path(resolved, what)
    return resolved


def load(path: Path) -> Schedule:
    """Load and validate a schedule file; every problem is reported at once."""
    check_path(path)
    if not path.is_file():
        raise ConfigError([f"{path}: no schedule file; write one (see README, Scheduled "
                           "sweeps) or pass --file"])
    doc = yamlfile.load(path)
    if not isinstance(doc, dict):
        raise ConfigError([f"{path}:1:1: a schedule is a mapping with 'jobs'"])
    try:
        return Schedule.model_validate(doc)
    except ValidationError as exc:
        # a key holding a newline is echoed in the field path: keep each problem one line
        raise ConfigError([shown(p) for p in yamlfile.problems(path, doc, exc, Schedule)]
                          ) from exc


def resolve(path: Path, relative: str) -> Path:
    """A path from the schedule file, relative to the file's folder."""
    p = Path(relative)
    return p if p.is_absolute() else (path.resolve().parent / p)
