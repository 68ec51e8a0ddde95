"""A Scrapy extension for tests: every request a crawl schedules goes through Scrapy's own
serialisation (``Request.to_dict``, pickle, ``request_from_dict``) and what came back is
compared with what went in, and through ``crawler.distributed.codec`` (JSON, plain data
only); one JSON line per request in ``TEST_REQUESTS_LOG``."""

from __future__ import annotations

import json
import pickle
from typing import Any, Self

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.utils.request import request_from_dict
from scrapy_playwright.page import PageMethod

from crawler.distributed import codec


def comparable(value: Any) -> Any:
    """``value`` with page methods as (function, args, kwargs): they define no equality."""
    if isinstance(value, PageMethod):
        return ("PageMethod", value.method, comparable(list(value.args)),
                comparable(value.kwargs))
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [comparable(v) for v in value]
    return value


class RoundTrip:
    """Connects to ``request_scheduled``."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.path = crawler.settings["TEST_REQUESTS_LOG"]

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        ext = cls(crawler)
        crawler.signals.connect(ext.scheduled, signal=signals.request_scheduled)
        return ext

    def scheduled(self, request: Request, spider: Spider) -> None:
        line: dict[str, Any] = {"spider": spider.name, "url": request.url,
                                "browser": bool(request.meta.get("playwright"))}
        try:
            blob = pickle.dumps(request.to_dict(spider=spider))
            back = request_from_dict(pickle.loads(blob), spider=spider)
            line["same"] = (
                back.url == request.url and back.method == request.method
                and back.callback == request.callback and back.errback == request.errback
                and back.cb_kwargs == request.cb_kwargs
                and back.dont_filter == request.dont_filter
                and comparable(back.meta) == comparable(request.meta))
            line["bytes"] = len(blob)
            # and as JSON, as crawler.distributed queues them: plain data only
            codec.dumps(request.to_dict(spider=spider))
        except Exception as exc:  # reported by the test, with the request it failed on
            line["error"] = f"{type(exc).__name__}: {exc}"
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")
