"""Every error a user can cause, in one place. Messages say where and what to do.

The CLI prints ``str(error)`` on one line and exits with the error's ``exit_code``.
"""

from __future__ import annotations

from typing import TypeVar

_T = TypeVar("_T")


class BrandsweepError(Exception):
    """Root of brandsweep's own errors; ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class UserError(BrandsweepError):
    """Root of the errors in what a person gave brandsweep (a file, a name, an address, an
    option) that they must fix before trying again: exit 2, like a usage error."""

    exit_code = 2


class BrowserNotFound(BrandsweepError):
    """Raised by ``crawler.browser.chromium`` when no Chromium can be found or installed."""


class FixturesUnavailable(BrandsweepError):
    """Raised by the demo when the fixture marketplaces do not start or answer."""


class ConfigError(UserError):
    """Raised by the YAML loaders (profiles, rule sets) for a file a user must fix.

    ``problems`` holds every ``path:line:col: message`` found, so all are reported at once.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems) if len(problems) <= 1 else
                         f"{len(problems)} problems: " + "; ".join(problems))


class UnknownMarketplace(UserError):
    """Raised when a command names a marketplace that has no profile."""


class UnknownBrand(UserError):
    """Raised when a command names a brand that has no rule set file."""


class UnknownListing(UserError):
    """Raised when a command names a listing (MARKETPLACE:ID) that the store does not hold."""


class UnknownCase(UserError):
    """Raised by ``crawler.cases.lifecycle`` when a command names a case number the store lacks."""


class CaseStateError(BrandsweepError):
    """Raised by ``crawler.cases.lifecycle`` for a change a case's status does not allow (for
    example confirming a dismissed case); nothing is changed."""


class UnknownNotice(UserError):
    """Raised by ``crawler.notices`` when a command names a notice the store lacks."""


class NoticeFieldMissing(UserError):
    """Raised while drafting when the brand's identity lacks a field a program requires;
    the message names the field and the rule set file to add it to."""


class TemplateProblem(UserError):
    """Raised when a notice template (ours or a rule set's own) cannot be rendered."""


class NoStore(UserError):
    """Raised when a command that reads the store is pointed at a file that is not there."""


class UrlRefused(UserError):
    """Raised by ``crawler.urls`` users when a URL is not one the marketplace's profile
    allows brandsweep to fetch (another host, another scheme, a private address)."""


class SweepLocked(BrandsweepError):
    """Raised by ``crawler.sweep.lock`` when a sweep of the same brand is already running."""

    exit_code = 75  # EX_TEMPFAIL: cron may simply try again next time


class CrontabError(BrandsweepError):
    """Raised by ``scheduling.crontab`` when a crontab cannot be read or written (no
    ``crontab`` program, the program failed, a crontab file is not writable), or when the
    text about to be installed does not parse back to exactly the schedule's jobs; nothing
    is written then."""


class StoreUnusable(UserError):
    """Raised by ``crawler.store.Store`` when its ``--db`` cannot be used: not a SQLite
    file, a folder, in a folder that cannot be written, locked or read-only."""


class WorkbenchExposed(UserError):
    """Raised by ``brandsweep serve`` when asked to listen beyond loopback without an
    access token: the workbench would let anyone on the network decide cases."""


class RedisUnavailable(UserError):
    """Raised by ``crawler.distributed`` when the Redis that distributed sweeps share does
    not answer (not running, wrong address, refused, timed out) or its URL is malformed."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"Redis at {url} is unavailable ({reason}): start redis-server "
                         "or check --redis")


class RuleSetChanged(BrandsweepError):
    """Raised by ``crawler.pipelines.judge`` when the rule file a crawl was started with
    has changed since (its version differs): the crawl's listings would be judged by rules
    the sweep did not report."""

    exit_code = 2

    def __init__(self, path: str, expected: str, found: str) -> None:
        self.path = path
        super().__init__(f"{path}: the rule set changed during the sweep (version {found}, "
                         f"the sweep started with {expected}); run the sweep again, or "
                         "`brandsweep rules apply` to judge its listings with the new rules")


class NotificationFailed(BrandsweepError):
    """Raised by ``brandsweep notify test`` and ``notify retry`` when a service did not
    take a message (refused, unreachable, an error status); what it said is in the
    message, and an outbox message stays in the outbox for the next retry. A sweep never
    raises it: a notification that fails there is one line on stderr."""


def known(found: _T | None, error: type[UserError], what: str, key: object, where: object,
          shows: str) -> _T:
    """``found``, or ``error`` saying there is no ``what`` ``key`` in ``where`` and which
    command shows the ones there are."""
    if found is None:
        raise error(f"no {what} {key} in {where}; {shows}")
    return found
