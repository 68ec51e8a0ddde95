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
