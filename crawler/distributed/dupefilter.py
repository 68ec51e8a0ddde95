"""The duplicate filter of a worker's crawler: Redis has filtered duplicates already.

A leased request is downloaded however often it is leased (a redelivery after its worker
died must not be refused as seen), so the only request refused here is a redirect back to
a page of its own redirect chain: the loop a local sweep's duplicate filter stops, and
the profile spider reports (``request_dropped``).
"""

from __future__ import annotations

from scrapy import Request
from scrapy.dupefilters import BaseDupeFilter
from w3lib.url import canonicalize_url


class RedirectLoopFilter(BaseDupeFilter):
    """Refuses a request whose URL is already in its ``redirect_urls``."""

    def request_seen(self, request: Request) -> bool:
        chain = request.meta.get("redirect_urls") or []
        if not chain:
            return False
        url = canonicalize_url(request.url)
        return any(canonicalize_url(u) == url for u in chain)
