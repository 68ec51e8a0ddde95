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
