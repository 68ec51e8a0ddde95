"""UrlPolicyMiddleware: every request, redirect target and final URL through crawler.urls."""

from __future__ import annotations

import re

import pytest
from scrapy import Request
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse, Response
from scrapy.utils.test import get_crawler

from crawler.downloadermiddlewares.urlpolicy import RefusedUrl, UrlPolicyMiddleware
from crawler.settings import DEFAULTS

BASE = "http://127.0.0.1:8900/bazaar"


@pytest.fixture
def mw() -> UrlPolicyMiddleware:
    crawler = get_crawler(settings_dict=DEFAULTS | {
        "BRANDSWEEP_BASE_URL": BASE, "BRANDSWEEP_ALLOWED_HOSTS": ["cdn.bazaar.example"]})
    return UrlPolicyMiddleware.from_crawler(crawler)


def test_not_configured_without_a_base_url() -> None:
    with pytest.raises(NotConfigured):
        UrlPolicyMiddleware.from_crawler(get_crawler(settings_dict=DEFAULTS))


def test_the_marketplace_and_its_allowed_hosts_pass(mw: UrlPolicyMiddleware) -> None:
    assert mw.process_request(Request(f"{BASE}/sch?q=acme")) is None
    assert mw.process_request(Request("https://cdn.bazaar.example/i/1.jpg")) is None


@pytest.mark.parametrize(("url", "why"), [
    ("file:///etc/passwd", "scheme 'file'"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://metadata.google.internal/", "metadata"),
    ("http://127.0.0.1:6379/", "not the marketplace's own"),
    ("https://evil.example/", "not the marketplace's own"),
])
def test_refused(mw: UrlPolicyMiddleware, url: str, why: str) -> None:
    with pytest.raises(RefusedUrl) as refused:
        mw.process_request(Request(url))
    assert why in refused.value.reason and refused.value.url == url


def test_a_redirect_says_where_it_came_from(mw: UrlPolicyMiddleware) -> None:
    # what RedirectMiddleware makes: a new request carrying the chain in its meta
    hop = Request("http://169.254.169.254/", meta={"redirect_urls": [f"{BASE}/sch?q=a"]})
    with pytest.raises(RefusedUrl, match=re.escape(f"redirected from {BASE}/sch")):
        mw.process_request(hop)


def test_a_redirect_scrapy_would_not_follow_is_refused_too(mw: UrlPolicyMiddleware) -> None:
    request = Request(f"{BASE}/sch?q=a")
    response = Response(request.url, status=302, headers={"Location": "file:///etc/passwd"},
                        request=request)
    with pytest.raises(RefusedUrl, match="scheme 'file'"):
        mw.process_response(request, response)
    ok = Response(request.url, status=302, headers={"Location": "/bazaar/sch?q=b"},
                  request=request)
    assert mw.process_response(request, ok) is ok


def test_a_page_that_ended_elsewhere_is_refused(mw: UrlPolicyMiddleware) -> None:
    # a browser page that a script or redirect sent to another host
    request = Request(f"{BASE}/sch?q=a", meta={"playwright": True})
    moved = HtmlResponse("https://evil.example/phish", body=b"<html></html>",
                         request=request)
    with pytest.raises(RefusedUrl, match="the page went from"):
        mw.process_response(request, moved)
    stayed = HtmlResponse(f"{BASE}/sch?q=a&p=1", body=b"<html></html>", request=request)
    assert mw.process_response(request, stayed) is stayed


def test_it_runs_before_robots_txt() -> None:
    order = DEFAULTS["DOWNLOADER_MIDDLEWARES"]
    assert order["crawler.downloadermiddlewares.urlpolicy.UrlPolicyMiddleware"] < 100
