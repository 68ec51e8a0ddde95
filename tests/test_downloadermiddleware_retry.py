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
from tests import asyncrun


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


def test_page_deadline_defaults_to_three_timeouts() -> None:
    from crawler.downloadhandlers.http import page_deadline

    assert page_deadline(Settings(DEFAULTS | {"DOWNLOAD_TIMEOUT": 5})) == 15
    assert page_deadline(Settings(DEFAULTS | {"BRANDSWEEP_PAGE_DEADLINE": 7})) == 7


def test_no_retry_past_the_page_deadline() -> None:

    from crawler.downloadhandlers.http import PAGE_SPENT

    mw = BackoffRetryMiddleware(Settings(DEFAULTS | {"BRANDSWEEP_PAGE_DEADLINE": 10}))
    fresh = Request("http://x/", meta={PAGE_SPENT: 1.0})
    spent = Request("http://x/", meta={PAGE_SPENT: 9.5})
    assert mw._in_time(fresh, 2.0) and not mw._in_time(spent, 0.0)
    response = Response("http://x/", status=503, request=spent)

    run = asyncrun.run
    # past the deadline the 503 is the answer: no retry, no wait
    assert run(mw.process_response(spent, response)) is response
    assert run(mw.process_exception(spent, TimeoutError())) is None


def test_an_attempt_gets_what_is_left_of_the_page_deadline() -> None:
    from scrapy.exceptions import DownloadTimeoutError

    from crawler.downloadhandlers.http import PAGE_SPENT, begin_attempt, end_attempt

    request = Request("http://x/", meta={PAGE_SPENT: 8.0, "download_timeout": 5,
                                         "playwright": True})
    started = begin_attempt(request, 10.0, 30.0)
    assert request.meta["download_timeout"] == 2.0
    assert request.meta["playwright_page_goto_kwargs"]["timeout"] == 2000.0
    end_attempt(request, started)
    assert request.meta[PAGE_SPENT] >= 8.0
    with pytest.raises(DownloadTimeoutError, match="BRANDSWEEP_PAGE_DEADLINE"):
        begin_attempt(Request("http://x/", meta={PAGE_SPENT: 10.0}), 10.0, 30.0)


def _crawled(settings: dict[str, object]) -> tuple[BackoffRetryMiddleware, object]:
    from scrapy import Spider
    from scrapy.utils.test import get_crawler

    crawler = get_crawler(Spider, DEFAULTS | settings)
    crawler.spider = Spider.from_crawler(crawler, name="unit")
    return BackoffRetryMiddleware.from_crawler(crawler), crawler


def _run_at_once(coro: object) -> object:
    """Run ``coro`` to its end without an event loop: it must not wait for anything."""
    try:
        coro.send(None)  # type: ignore[attr-defined]
    except StopIteration as done:
        return done.value
    coro.close()  # type: ignore[attr-defined]
    raise AssertionError("the coroutine waited")


def test_a_retry_is_scrapys_and_handed_back_without_waiting() -> None:
    from crawler.downloadermiddlewares.retry import RETRY_AT
    from crawler.downloadhandlers.http import PAGE_SPENT

    mw, crawler = _crawled({"BRANDSWEEP_RETRY_BACKOFF": 5.0, "RETRY_TIMES": 1})
    request = Request("http://x/", meta={"playwright_page": object(),
                                         "playwright_page_methods": [object()],
                                         "brandsweep_page_methods": [["settle_page", 1]]})
    response = Response("http://x/", status=503, headers={"Retry-After": "3"},
                        request=request)
    retry = _run_at_once(mw.process_response(request, response))
    assert isinstance(retry, Request) and retry is not request
    assert retry.meta["retry_times"] == 1 and retry.dont_filter
    # the wait travels with the retry, as plain data, and counts towards the page deadline
    assert retry.meta[PAGE_SPENT] == 3.0 and isinstance(retry.meta[RETRY_AT], float)
    # what the download made live is dropped; the named page methods stay, as data
    assert "playwright_page" not in retry.meta and "playwright_page_methods" not in retry.meta
    assert retry.meta["brandsweep_page_methods"] == [["settle_page", 1]]
    stats = crawler.stats.get_stats()  # type: ignore[attr-defined]
    assert stats["retry/count"] == 1
    assert stats["retry/reason_count/503 Service Unavailable"] == 1
    # RETRY_TIMES spent: Scrapy's get_retry_request gives up, the response is the answer
    again = Response("http://x/", status=503, request=retry)
    assert _run_at_once(mw.process_response(retry, again)) is again
    assert crawler.stats.get_value("retry/max_reached") == 1  # type: ignore[attr-defined]


def test_an_exception_is_retried_and_the_wait_is_served_when_the_retry_is_downloaded(
        ) -> None:
    import asyncio
    import time

    from crawler.downloadermiddlewares.retry import RETRY_AT

    mw, _crawler = _crawled({"BRANDSWEEP_RETRY_BACKOFF": 60.0})
    request = Request("http://x/")
    retry = _run_at_once(mw.process_exception(request, TimeoutError()))
    assert isinstance(retry, Request) and retry.meta["retry_times"] == 1
    assert retry.meta[RETRY_AT] > time.time()
    # not yet due: process_request waits for it (still waiting after the loop went round)
    async def pending() -> bool:
        task = asyncio.ensure_future(mw.process_request(retry))
        for _ in range(10):
            await asyncio.sleep(0)
        waited = not task.done()
        task.cancel()
        return waited

    assert asyncrun.run(pending())
    # due: it goes straight on, and waits only once
    due = Request("http://x/", meta={RETRY_AT: time.time() - 1})
    assert _run_at_once(mw.process_request(due)) is None and RETRY_AT not in due.meta
    assert _run_at_once(mw.process_request(Request("http://x/"))) is None
