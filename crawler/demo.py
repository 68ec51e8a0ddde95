"""``brandsweep demo``: start the fixture marketplaces and show what brandsweep does there."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote
from urllib.request import urlopen

from crawler.exceptions import FixturesUnavailable

# the first search page of each marketplace, and the markup that marks a listing on it
SEARCH_PAGES = {
    "bazaar": ("/bazaar/sch?q={q}", 'class="s-item"'),
    "shopfront": ("/shopfront/api/search?q={q}", '"url":'),
    "megamart": ("/megamart/s?k={q}", 'data-component-type="s-search-result"'),
    "tradehub": ("/tradehub/search?keywords={q}", 'class="offer-card"'),
}


@dataclass(frozen=True)
class MarketplaceCheck:
    """What one fixture marketplace answered to a search."""

    marketplace: str
    status: int
    listings: int
    millis: float


def check_marketplaces(base_url: str, keyword: str = "acme") -> list[MarketplaceCheck]:
    """Fetch one search page per marketplace; raise ``FixturesUnavailable`` if one fails."""
    import time

    checks = []
    for market, (path, marker) in SEARCH_PAGES.items():
        url = base_url + path.format(q=quote(keyword))
        started = time.perf_counter()
        try:
            with urlopen(url, timeout=10) as r:  # noqa: S310 (loopback fixture URL)
                body = r.read().decode(r.headers.get_content_charset() or "utf-8")
                status = r.status
        except OSError as exc:
            raise FixturesUnavailable(f"fixture marketplace {market} at {url} did not "
                                      f"answer ({exc}); run `python -m fixtures serve` to "
                                      "see why") from exc
        millis = (time.perf_counter() - started) * 1000
        checks.append(MarketplaceCheck(market, status, body.count(marker), millis))
        if status != 200 or not body.count(marker):
            raise FixturesUnavailable(f"fixture marketplace {market} at {url} returned no "
                                      f"listings (HTTP {status})")
    return checks


def run(echo: Callable[[str], None], seed: int = 7) -> None:
    """Start the fixture marketplaces on a free port, check them, and print a summary."""
    from fixtures.server import FixtureServer

    with FixtureServer(port=0, seed=seed) as server:
        echo(f"fixture marketplaces on {server.url} (seed {seed}, "
             f"{len(server.app.catalogue.listings)} listings)")
        for check in check_marketplaces(server.url):
            echo(f"  {check.marketplace:<10} HTTP {check.status}  {check.listings:>3} "
                 f"listings on the first 'acme' search page  ({check.millis:.0f} ms)")
        echo("demo: the fixture marketplaces are up and serving; sweeps are not built yet "
             "(issue 3), so the demo stops here.")
