"""What ``notify:`` may say (schedule file, job, rule set) and ``--notify URL``: where
messages go (apprise URLs) and what triggers one.

The shapes a person may write::

    notify: mailto://...                      # one URL, the default triggers
    notify: [mailto://..., json://...]        # URLs, the default triggers
    notify: {urls: [...], on: [new_takedowns, marketplace_failed], min_score: 300}

Every URL is checked with apprise when the file is loaded, so a URL apprise cannot use is
a located ``ConfigError`` (exit 2) before anything is swept.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from crawler.exceptions import ConfigError

# trigger -> what fires it (README, Notifications, lists the same)
TRIGGERS: dict[str, str] = {
    "new_cases": "a sweep opened cases, at any stage",
    "new_takedowns": "a sweep opened cases at the rule set's top stage (e.g. takedown)",
    "high_score": "a sweep opened cases scoring min_score or more",
    "marketplace_blocked": "a marketplace ended BLOCKED",
    "marketplace_failed": "a marketplace ended FAILED or EXTRACTION FAILED",
    "marketplace_degraded": "a marketplace ended DEGRADED (its figures fell against history)",
    "relisted": "a sweep found relistings of removed listings",
    "verified_removed": "verify found submitted listings removed",
    "every_sweep": "every sweep, even one that found nothing",
}
DEFAULT_ON: tuple[str, ...] = ("new_takedowns", "marketplace_blocked", "marketplace_failed",
                               "marketplace_degraded", "relisted", "verified_removed")
# where the schedule runner hands a job's channels to the sweep it starts (JSON); an
# environment variable, so tokens in the URLs stay out of `ps`
ENV = "BRANDSWEEP_NOTIFY"


def _scheme(url: str) -> str:
    """The part of ``url`` safe to echo: its scheme, never its tokens."""
    head = url.split("://", 1)[0] if "://" in url else ""
    return f"{head}://…" if head.isascii() and head.isalnum() else "a value"


def usable(url: str) -> str | None:
    """Why apprise cannot use ``url`` (one line, no secrets), or None when it can."""
    import apprise

    if not url.strip():
        return "an empty notification URL"
    if any(ord(c) < 32 for c in url):
        return "a notification URL holding a control character"
    if apprise.Apprise.instantiate(url.strip(), asset=asset()) is None:
        return (f"{_scheme(url)} is not a notification URL apprise can use (unknown "
                "scheme, or a parameter it refuses); see the apprise wiki for the "
                "service's URL, e.g. mailto://user:pass@host?to=a@b, json://host/path")
    return None


def asset() -> Any:
    """apprise's settings for brandsweep: nothing persisted under $HOME."""
    import apprise

    return apprise.AppriseAsset(storage_mode="memory")


def _url(value: str) -> str:
    problem = usable(value)
    if problem:
        raise ValueError(problem)
    return value.strip()


NotifyUrl = Annotated[str, AfterValidator(_url)]


def _trigger(value: str) -> str:
    if value not in TRIGGERS:
        from crawler.yamlfile import hint

        raise ValueError(f"unknown trigger {value!r}{hint(value, TRIGGERS)}; triggers are "
                         f"{', '.join(TRIGGERS)}")
    return value


Trigger = Annotated[str, AfterValidator(_trigger)]


class NotifySpec(BaseModel):
    """``notify: {urls: [...], on: [...], min_score: N}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    urls: list[NotifyUrl] = Field(min_length=1)
    on: list[Trigger] = list(DEFAULT_ON)
    min_score: int | None = None  # high_score: new cases scoring at least this

    @model_validator(mode="after")
    def _score(self) -> NotifySpec:
        if "high_score" in self.on and self.min_score is None:
            raise ValueError("min_score: the high_score trigger needs min_score: N")
        if self.min_score is not None and "high_score" not in self.on:
            raise ValueError("min_score: it is read by the high_score trigger only; add "
                             "high_score to on (or remove min_score)")
        return self


def _shape(value: Any) -> str:
    # the tags carry brackets so that yamlfile.problems drops them from locations
    if isinstance(value, dict):
        return "mapping[notify]"
    return "list[urls]" if isinstance(value, list) else "str[url]"


NotifySetting = Annotated[
    Annotated[NotifySpec, Tag("mapping[notify]")]
    | Annotated[list[NotifyUrl], Tag("list[urls]")]
    | Annotated[NotifyUrl, Tag("str[url]")],
    Discriminator(_shape)]


@dataclass(frozen=True)
class Channel:
    """One service and what it wants to hear about."""

    url: str
    on: frozenset[str] = frozenset(DEFAULT_ON)
    min_score: int | None = None

    def wants(self, trigger: str) -> bool:
        return trigger in self.on

    def as_dict(self) -> dict[str, Any]:
        return {"urls": [self.url], "on": sorted(self.on), "min_score": self.min_score}


@dataclass
class Channels:
    """Every channel of a run, one per URL (the same URL given twice hears everything
    either asked for, once)."""

    by_url: dict[str, Channel] = field(default_factory=dict)

    def add(self, setting: NotifySpec | list[str] | str | None) -> Channels:
        """Add the channels of a validated ``notify:`` value."""
        for channel in channels(setting):
            self.merge(channel)
        return self

    def merge(self, channel: Channel) -> Channels:
        old = self.by_url.get(channel.url)
        if old is not None:
            scores = [s for s in (old.min_score, channel.min_score) if s is not None]
            channel = Channel(channel.url, old.on | channel.on,
                              min(scores) if scores else None)
        self.by_url[channel.url] = channel
        return self

    def __iter__(self) -> Iterator[Channel]:
        return iter(self.by_url.values())

    def __len__(self) -> int:
        return len(self.by_url)

    def to_json(self) -> str:
        return json.dumps([c.as_dict() for c in self])


def channels(setting: NotifySpec | list[str] | str | None) -> list[Channel]:
    """The channels a validated ``notify:`` value names."""
    if setting is None:
        return []
    if isinstance(setting, str):
        return [Channel(setting)]
    if isinstance(setting, list):
        return [Channel(u) for u in setting]
    return [Channel(u, frozenset(setting.on), setting.min_score) for u in setting.urls]


_ADAPTER: TypeAdapter[Any] = TypeAdapter(NotifySetting)


def from_cli(urls: tuple[str, ...] | list[str], option: str = "--notify") -> list[Channel]:
    """Channels for ``--notify URL`` (repeatable), the default triggers; a URL apprise
    cannot use is a ``ConfigError`` naming the option."""
    problems = [f"{option}: {p}" for p in (usable(u) for u in urls) if p]
    if problems:
        raise ConfigError(problems)
    return [Channel(u.strip()) for u in urls]


def for_run(own: list[Channel], urls: tuple[str, ...] | list[str],
            environ: dict[str, str] | None = None) -> list[Channel]:
    """A run's channels: ``own`` (its rule set's ``notify:``), a scheduled job's (handed
    over in ``BRANDSWEEP_NOTIFY``) and ``--notify`` URLs, one per URL; every one checked
    before the run starts (``ConfigError``, exit 2)."""
    import os

    env = os.environ if environ is None else environ
    found = Channels()
    for channel in [*own, *from_env(env.get(ENV)), *from_cli(urls)]:
        found.merge(channel)
    return list(found)


def from_env(text: str | None) -> list[Channel]:
    """Channels handed over in ``BRANDSWEEP_NOTIFY`` (a JSON list of ``notify:`` values)."""
    if not text:
        return []
    try:
        doc = json.loads(text)
        if not isinstance(doc, list):
            raise ValueError("not a list")
        found = Channels()
        for item in doc:
            found.add(_ADAPTER.validate_python(item))
    except (ValueError, ValidationError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid"
        if isinstance(exc, ValidationError):
            first = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise ConfigError([f"{ENV}: not a JSON list of notify settings ({first}); unset "
                           "it, or set it to e.g. [\"json://host/path\"]"]) from exc
    return list(found)


def from_rule_file(path: Path) -> list[Channel]:
    """The ``notify:`` channels of a rule set file, read without compiling its rules
    (for commands such as verify that need nothing else of it); located errors."""
    from crawler import yamlfile

    doc = yamlfile.load(path)
    if not isinstance(doc, dict) or doc.get("notify") is None:
        return []
    try:
        only = _NotifyOnly.model_validate(doc)
    except ValidationError as exc:
        raise ConfigError(yamlfile.problems(path, doc, exc, _NotifyOnly)) from exc
    return channels(only.notify)


class _NotifyOnly(BaseModel):
    """A file's ``notify:`` section, the rest ignored (checked where it is used)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    notify: NotifySetting | None = None
