"""Which URLs brandsweep may fetch: one decision, used by every component that fetches.

Pages are written by counterfeiters, so a link on one is never trusted: a listing card may
point at ``file:///etc/passwd``, a cloud metadata address or another host altogether. A
URL is allowed when

- its scheme is ``http`` or ``https`` and it has no user name, password, backslash,
  whitespace or control character (the tricks that make two URL parsers disagree);
- its host is the profile's ``base_url`` host on the same port (``https`` on the default
  port also counts, a site moving to TLS), or is in the profile's ``allowed_hosts``
  (``host``, ``host:port`` or ``*.example.com`` for the subdomains of ``example.com``);
- its address is not link-local, multicast, unspecified or reserved, nor a cloud metadata
  name, whatever the profile says; and loopback or private addresses are allowed only when
  the profile's own ``base_url`` host is one (the fixture marketplaces live on loopback).

Only literal addresses and well-known names are classed: a host name must be on the list
anyway, so what it resolves to is the marketplace's own business.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import SplitResult, urlsplit

SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
# names that reach a cloud provider's instance metadata service
METADATA_HOSTS = frozenset({"metadata", "metadata.google.internal", "instance-data",
                            "instance-data.ec2.internal", "metadata.azure.com"})
_LOCAL_NAMES = ("localhost", "localhost.localdomain")
# instance metadata services that sit outside the link-local range
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "100.100.100.200",  # Alibaba Cloud
    "fd00:ec2::254",  # AWS over IPv6
))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        # an IPv4 address carried inside IPv6 is judged as that address:
        # ::ffff:169.254.169.254, 6to4 (2002::/16), Teredo, NAT64 (64:ff9b::/96)
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip.teredo is not None:
            return ip.teredo[1]
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


@lru_cache(maxsize=4096)  # every link of every page is judged: a sweep sees few hosts
def host_class(host: str) -> str:
    """``forbidden``, ``local`` (loopback or private) or ``public`` for a URL's host."""
    host = host.lower().rstrip(".")
    if host in METADATA_HOSTS:
        return "forbidden"
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        return "local"
    ip = _address(host)
    if ip is None:
        return "public"
    if ip in METADATA_ADDRESSES or ip.is_link_local or ip.is_multicast or ip.is_unspecified:
        return "forbidden"
    if ip.is_loopback:  # before is_reserved: Python counts ::1 as reserved
        return "local"
    if ip.is_reserved:
        return "forbidden"
    if ip.is_private or ip in _CGNAT:
        return "local"
    return "public"


# a backslash, a space or a control character (code points 0-32 and 127)
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")


def _split(url: str) -> tuple[SplitResult | None, str | None]:
    """The parts of ``url``, or why it cannot be fetched at all."""
    if not isinstance(url, str) or not url:
        return None, "empty URL"
    if _UNSAFE.search(url):
        return None, "the URL holds a backslash, space or control character"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return None, f"not a valid URL ({exc})"
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        return None, f"scheme {scheme or '(none)'!r} is not fetched (only http and https)"
    if not parts.hostname:
        return None, "the URL has no host"
    if parts.username is not None or parts.password is not None:
        return None, "the URL carries a user name or password"
    del port
    return parts, None


def _port(parts: SplitResult) -> int:
    return parts.port or DEFAULT_PORTS[parts.scheme.lower()]


@dataclass(frozen=True)
class UrlPolicy:
    """The URLs one marketplace profile may fetch. Build it with ``for_profile``."""

    host: str
    port: int
    default_port: bool  # base_url names no port of its own
    scheme: str = "https"
    allowed: tuple[str, ...] = ()  # the profile's allowed_hosts, lower case
    local_ok: bool = False  # base_url's own host is loopback or private

    @classmethod
    def from_base(cls, base_url: str, allowed_hosts: Iterable[str] = ()) -> UrlPolicy:
        """The policy of a profile with this ``base_url`` and ``allowed_hosts``; raises
        ``ValueError`` (with the reason) for a ``base_url`` that may not be fetched."""
        parts, why = _split(base_url)
        if parts is None:
            raise ValueError(why)
        host = (parts.hostname or "").lower().rstrip(".")
        kind = host_class(host)
        if kind == "forbidden":
            raise ValueError(f"host {host!r} is a link-local, metadata or reserved address")
        return cls(host=host, port=_port(parts), default_port=parts.port is None,
                   scheme=parts.scheme.lower(),
                   allowed=tuple(h.lower().rstrip(".") for h in allowed_hosts),
                   local_ok=kind == "local")

    def refusal(self, url: str) -> str | None:
        """Why ``url`` may not be fetched, or None when it may."""
        parts, why = _split(url)
        if parts is None:
            return why
        host = (parts.hostname or "").lower().rstrip(".")
        kind = host_class(host)
        if kind == "forbidden":
            return f"host {host!r} is a link-local, metadata or reserved address"
        if kind == "local" and not self.local_ok:
            return f"host {host!r} is a loopback or private address"
        port = _port(parts)
        scheme = parts.scheme.lower()
        # a site may move to TLS, never away from it
        secure_enough = scheme == self.scheme or scheme == "https"
        if host == self.host and secure_enough and (
                port == self.port or (self.default_port and parts.port is None)):
            return None
        for entry in self.allowed:
            name, want = split_host(entry)
            if want is not None and want != port:
                continue
            if want is None and port != DEFAULT_PORTS[scheme]:
                continue  # no port named: the scheme's own port only
            if host == name or (name.startswith("*.") and host.endswith(name[1:])):
                return None
        return (f"host {parts.netloc!r} is not the marketplace's own ({self.host}) nor in "
                "its allowed_hosts")

    def allows(self, url: str) -> bool:
        """True when ``url`` may be fetched."""
        return self.refusal(url) is None


def split_host(entry: str) -> tuple[str, int | None]:
    """An ``allowed_hosts`` entry as (host, port or None): ``cdn.example``,
    ``cdn.example:8443``, ``*.example.com``, ``[::1]:8900``, ``[2001:db8::1]``."""
    entry = entry.strip().lower().rstrip(".")
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest.removeprefix(":")
        return host, int(port) if port.isdigit() else None
    name, _, port = entry.partition(":")
    return name.rstrip("."), int(port) if port.isdigit() else None


def host_problem(entry: str) -> str | None:
    """Why an ``allowed_hosts`` entry cannot be used, or None."""
    text = entry.strip()
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
        bad_port = bool(rest) and not (rest.startswith(":") and port.isdigit())
        if not bracket or _address(host) is None or bad_port:
            return f"{entry!r} is not an IPv6 address in brackets (write [2001:db8::1]:8443)"
    else:
        host, _, port = text.partition(":")
        name = host.removeprefix("*.")
        labels = name.rstrip(".").split(".")
        if not name or not all(label and all(c.isalnum() or c in "-_" for c in label)
                               for label in labels) or (port and not port.isdigit()):
            return f"{entry!r} is not a host name (write host, host:port or *.example.com)"
        if host.startswith("*.") and (len(labels) < 2 or _address(name) is not None
                                      or name.replace(".", "").isdigit()):
            return (f"{entry!r} would allow every host under a top-level domain or a "
                    "range of addresses: name the marketplace's own domain (*.example.com)")
    if host_class(host.removeprefix("*.")) == "forbidden":
        return f"{entry!r} is a link-local, metadata or reserved address"
    return None


def for_profile(profile: object) -> UrlPolicy:
    """The policy of a loaded marketplace profile (anything with ``base_url`` and
    ``allowed_hosts``)."""
    return UrlPolicy.from_base(getattr(profile, "base_url"),  # noqa: B009
                               getattr(profile, "allowed_hosts", ()))
