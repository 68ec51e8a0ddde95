"""The schedule file (``schedule.yaml``): the sweeps cron runs, validated like rule sets
(every problem as ``path:line:col: message``)."""

from __future__ import annotations

from pathlib import Path

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from crawler import yamlfile
from crawler.exceptions import ConfigError

DEFAULT_FILE = Path("schedule.yaml")


class Job(BaseModel):
    """One cron job: sweep these brands on these marketplaces on this schedule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    brands: list[str] = Field(min_length=1)
    cron: str  # five fields, e.g. "15 */4 * * *"
    marketplaces: list[str] = []  # empty: every profile
    max_pages: int | None = Field(default=None, ge=1, le=1000)
    draft: bool = True  # draft notices for the stages the rule set drafts automatically
    evidence: bool = True
    env: dict[str, str] = {}  # extra environment for the job (cron starts almost empty)

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a five-field cron expression "
                             "(minute hour day-of-month month day-of-week)")
        return value


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    db: str = "brandsweep.db"  # relative to the schedule file's folder
    rules: str | None = None  # a rules folder, relative to the schedule file's folder
    marketplaces: list[str] = []  # extra profile folders, relative likewise
    logs: str = "logs"  # log files and HTML reports, relative likewise
    jobs: list[Job] = Field(min_length=1)

    @field_validator("jobs")
    @classmethod
    def _unique(cls, value: list[Job]) -> list[Job]:
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


def load(path: Path) -> Schedule:
    """Load and validate a schedule file; every problem is reported at once."""
    if not path.is_file():
        raise ConfigError([f"{path}: no schedule file; write one (see README, Scheduled "
                           "sweeps) or pass --file"])
    doc = yamlfile.load(path)
    if not isinstance(doc, dict):
        raise ConfigError([f"{path}:1:1: a schedule is a mapping with 'jobs'"])
    try:
        return Schedule.model_validate(doc)
    except ValidationError as exc:
        raise ConfigError(yamlfile.problems(path, doc, exc, Schedule)) from exc


def resolve(path: Path, relative: str) -> Path:
    """A path from the schedule file, relative to the file's folder."""
    p = Path(relative)
    return p if p.is_absolute() else (path.resolve().parent / p)
