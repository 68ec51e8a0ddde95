"""Every error a user can cause, in one place. Messages say where and what to do.

The CLI prints ``str(error)`` on one line and exits with the error's ``exit_code``.
"""

from __future__ import annotations


class BrandsweepError(Exception):
    """Root of brandsweep's own errors; ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class BrowserNotFound(BrandsweepError):
    """Raised by ``crawler.browser`` when no Chromium can be found or installed."""


class FixturesUnavailable(BrandsweepError):
    """Raised by the demo when the fixture marketplaces do not start or answer."""


class ConfigError(BrandsweepError):
    """Raised by the YAML loaders (profiles, rule sets) for a file a user must fix.

    ``problems`` holds every ``path:line:col: message`` found, so all are reported at once.
    """

    exit_code = 2

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems) if len(problems) <= 1 else
                         f"{len(problems)} problems: " + "; ".join(problems))


class UnknownMarketplace(BrandsweepError):
    """Raised when a command names a marketplace that has no profile."""

    exit_code = 2


class UnknownBrand(BrandsweepError):
    """Raised when a command names a brand that has no rule set file."""

    exit_code = 2


class UnknownListing(BrandsweepError):
    """Raised when a command names a listing (MARKETPLACE:ID) that the store does not hold."""

    exit_code = 2


class UnknownCase(BrandsweepError):
    """Raised by ``crawler.cases`` when a command names a case number the store lacks."""

    exit_code = 2


class CaseStateError(BrandsweepError):
    """Raised by ``crawler.cases`` for a change a case's status does not allow (for
    example confirming a dismissed case); nothing is changed."""


class UnknownNotice(BrandsweepError):
    """Raised by ``crawler.notices`` when a command names a notice the store lacks."""

    exit_code = 2


class NoticeFieldMissing(BrandsweepError):
    """Raised while drafting when the brand's identity lacks a field a program requires;
    the message names the field and the rule set file to add it to."""

    exit_code = 2


class TemplateProblem(BrandsweepError):
    """Raised when a notice template (ours or a rule set's own) cannot be rendered."""

    exit_code = 2


class NoStore(BrandsweepError):
    """Raised when a command that reads the store is pointed at a file that is not there."""

    exit_code = 2


class UrlRefused(BrandsweepError):
    """Raised by ``crawler.urls`` users when a URL is not one the marketplace's profile
    allows brandsweep to fetch (another host, another scheme, a private address)."""

    exit_code = 2


class SweepLocked(BrandsweepError):
    """Raised by ``scheduling.lock`` when a sweep of the same brand is already running."""

    exit_code = 75  # EX_TEMPFAIL: cron may simply try again next time


class CrontabError(BrandsweepError):
    """Raised by ``scheduling.crontab`` when a crontab cannot be read or written (no
    ``crontab`` program, the program failed, a crontab file is not writable), or when the
    text about to be installed does not parse back to exactly the schedule's jobs; nothing
    is written then."""


class StoreUnusable(BrandsweepError):
    """Raised by ``crawler.store.Store`` when its ``--db`` cannot be used: not a SQLite
    file, a folder, in a folder that cannot be written, locked or read-only."""

    exit_code = 2


class WorkbenchExposed(BrandsweepError):
    """Raised by ``brandsweep serve`` when asked to listen beyond loopback without an
    access token: the workbench would let anyone on the network decide cases."""

    exit_code = 2



class RedisUnavailable(BrandsweepError):
    """Raised by ``crawler.distributed`` when the Redis that distributed sweeps share does
    not answer (not running, wrong address, refused, timed out) or its URL is malformed."""

    exit_code = 2

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
