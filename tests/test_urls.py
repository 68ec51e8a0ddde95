"""crawler.urls: the one place that decides which URLs may be fetched."""

from __future__ import annotations

import pytest

from crawler.urls import UrlPolicy, host_class

LOCAL = UrlPolicy.from_base("http://127.0.0.1:8900/bazaar")
PUBLIC = UrlPolicy.from_base("https://www.shop.example/", ["cdn.shop.example",
                                                           "*.img.example", "api.example:8443"])


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8900/bazaar/itm/1",
    "http://127.0.0.1:8900/other/path",
])
def test_local_profile_allows_its_own_origin(url: str) -> None:
    assert LOCAL.refusal(url) is None


@pytest.mark.parametrize("url, why", [
    ("file:///etc/passwd", "scheme"),
    ("javascript:alert(1)", "scheme"),
    ("http://127.0.0.1:6379/", "not the marketplace's own"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[::ffff:169.254.169.254]/", "link-local"),
    ("http://metadata.google.internal/", "metadata"),
    ("http://user:pw@127.0.0.1:8900/", "user name"),
    ("http://127.0.0.1:8900\\@evil.example/", "backslash"),
    ("http://127.0.0.1:8900/a b", "space"),
    ("http://0.0.0.0:8900/", "link-local, metadata or reserved"),
    ("", "empty"),
])
def test_local_profile_refuses(url: str, why: str) -> None:
    refusal = LOCAL.refusal(url)
    assert refusal is not None and why in refusal


def test_public_profile() -> None:
    assert PUBLIC.allows("https://www.shop.example/item/1")
    assert not PUBLIC.allows("http://www.shop.example/item/1")  # never away from TLS
    assert not PUBLIC.allows("http://www.shop.example:443/item/1")
    assert not PUBLIC.allows("http://cdn.shop.example:443/a.jpg")
    assert not PUBLIC.allows("https://cdn.shop.example:80/a.jpg")
    assert PUBLIC.allows("https://cdn.shop.example/a.jpg")
    assert PUBLIC.allows("https://x.img.example/a.jpg")
    assert PUBLIC.allows("https://api.example:8443/v1")
    assert not PUBLIC.allows("https://api.example/v1")
    assert not PUBLIC.allows("https://img.example.evil.example/a.jpg")
    assert not PUBLIC.allows("https://www.shop.example:8080/")
    assert not PUBLIC.allows("http://127.0.0.1/")  # loopback from a public profile
    assert not PUBLIC.allows("http://10.0.0.5/")
    assert not PUBLIC.allows("http://localhost/")


@pytest.mark.parametrize("base", ["file:///srv/shop", "http://169.254.169.254/",
                                  "http://metadata.google.internal/", "ftp://shop.example/",
                                  "http://[fe80::1]/"])
def test_base_url_that_cannot_be_swept(base: str) -> None:
    with pytest.raises(ValueError):
        UrlPolicy.from_base(base)


def test_host_class() -> None:
    assert host_class("127.0.0.1") == "local"
    assert host_class("192.168.1.2") == "local"
    assert host_class("localhost") == "local"
    assert host_class("169.254.1.1") == "forbidden"
    assert host_class("shop.example") == "public"
    assert host_class("8.8.8.8") == "public"


def test_plain_http_profile_may_move_to_tls() -> None:
    policy = UrlPolicy.from_base("http://shop.example/")
    assert policy.allows("https://shop.example/x") and policy.allows("http://shop.example/x")


@pytest.mark.parametrize("host", ["100.100.100.200", "fd00:ec2::254", "2002:a9fe:a9fe::",
                                  "64:ff9b::a9fe:a9fe", "::ffff:169.254.169.254"])
def test_metadata_services_and_embedded_ipv4_are_forbidden(host: str) -> None:
    assert host_class(host) == "forbidden"


def test_ipv6_loopback_marketplace() -> None:
    policy = UrlPolicy.from_base("http://[::1]:8900/shop")
    assert policy.allows("http://[::1]:8900/shop/itm/1")
    assert not policy.allows("http://[::1]:6379/")


@pytest.mark.parametrize("entry, ok", [
    ("cdn.shop.example", True), ("cdn.shop.example:8443", True), ("*.shop.example", True),
    ("[2001:db8::1]:8443", True), ("*.com", False), ("*.0.0.1", False),
    ("100.100.100.200", False), ("bad host", False), ("[::1", False),
])
def test_allowed_hosts_entries(entry: str, ok: bool) -> None:
    from crawler.urls import host_problem

    assert (host_problem(entry) is None) == ok
