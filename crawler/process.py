"""The one Scrapy ``CrawlerProcess`` a command runs its crawlers in (sweeps, verify).

One reactor per process, installed before the first crawler; the telnet console and
Scrapy's remote control (code execution over HTTP) stay off in every one.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.utils.misc import load_object
from scrapy.utils.reactor import install_reactor, is_reactor_installed

from crawler import settings as bs


def crawler_process(log_level: str | None) -> CrawlerProcess:
    """A process for this command's crawlers, its reactor installed."""
    if not is_reactor_installed():
        install_reactor(bs.DEFAULTS["TWISTED_REACTOR"])
    level = log_level or "CRITICAL"
    process = CrawlerProcess(settings={"TWISTED_REACTOR": bs.DEFAULTS["TWISTED_REACTOR"],
                                       "LOG_LEVEL": level,
                                       "TELNETCONSOLE_ENABLED": False,
                                       "REMOTE_CONTROL_ENABLED": False,
                                       "LOG_INSTALL_ROOT_HANDLER": True})
    # Scrapy sets its loggers to DEBUG and drops what is below LOG_LEVEL in the handler,
    # after a record of every request and item was built; refused at the logger, the
    # records below the level are never made
    logging.getLogger("scrapy").setLevel(level)
    return process


def spider(dotted: str) -> type[Any]:
    """A spider class by dotted path: spiders sit above the library, named, not imported
    (the import contract in pyproject.toml)."""
    cls: type[Any] = load_object(dotted)
    return cls
