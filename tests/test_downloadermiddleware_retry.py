"""Backoff retry: honours Retry-After, backs off exponentially, caps the wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from scrapy import Request
from scrapy.http import Response
from scrapy.settings import Settings

from crawler.downloadermiddlewares.retry import BackoffRetryMiddleware
from crawler.settings import DEFAULTS


@pytest.fixture
def mw() -> BackoffRetryMiddleware:
    return BackoffRetryMiddleware(Settings(DEFAULTS | {"BRANDSWEEP_RETRY_BACKOFF": 1.0,
                                                       "BRANDSWEEP_RETRY_BACKOFF_MAX": 30.0}))


def test_retry_after_seconds(mw: BackoffRetryMiddleware) -> None:
    response = Response("http://x/", status=429, headers={"Retry-After": "7"})
    assert mw.wait(Request("http://x/"), response) == 7


def test_retry_after_http_date(mw: BackoffRetryMiddleware) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=12), usegmt=True)
    wait = mw.wait(Request("http://x/"), Response("http://x/", status=503,
                                                  headers={"Retry-After": when}))
    assert 10 <= wait <= 12


def test_retry_after_is_capped(mw: BackoffRetryMiddleware) -> None:
    response = Response("http://x/", status=429, headers={"Retry-After": "86400"})
    assert mw.wait(Request("http://x/"), response) == 30


def test_backoff_grows_with_attempts(mw: BackoffRetryMiddleware) -> None:
    first = mw.wait(Request("http://x/", meta={"retry_times": 0}), None)
    fourth = mw.wait(Request("http://x/", meta={"retry_times": 3}), None)
    assert 0.5 <= first <= 1.5
    assert 4 <= fourth <= 12


def test_429_is_retried(mw: BackoffRetryMiddleware) -> None:
    assert 429 in mw.retry_http_codes and 503 in mw.retry_http_codes
