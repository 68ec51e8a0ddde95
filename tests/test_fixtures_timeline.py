"""The fixture world over days: takedowns, relistings and price drops, as served and as
``changes`` and ``truth --day`` print them."""

from __future__ import annotations

import json
import subprocess
import sys

from fixtures.catalogue import Catalogue
from fixtures.server import FixtureServer
from tests.conftest import fetch


def test_days_are_cumulative_and_stable() -> None:
    day1, day3 = Catalogue(7, 1, hard=False), Catalogue(7, 3, hard=False)
    kinds = {c.change for c in day3.changes}
    assert kinds == {"removed", "relisted", "price"}
    assert [c for c in day3.changes if c.day == 1] == day1.changes
    assert Catalogue(7, 3, hard=False).changes == day3.changes  # the same in every process
    assert Catalogue(7, hard=False).changes == []


def test_removed_listings_are_gone_and_relistings_reuse_the_photo() -> None:
    base, later = Catalogue(7, hard=False), Catalogue(7, 2, hard=False)
    removed = {(c.marketplace, c.listing_id) for c in later.changes if c.change == "removed"}
    assert removed and not removed & set(later.by_id)
    assert all(base.by_id[k].label == "counterfeit" for k in removed)
    relisted = [c for c in later.changes if c.change == "relisted"]
    assert relisted and all(c.day == 2 for c in relisted)  # the day after day-1 takedowns
    for c in relisted:
        new = later.by_id[(c.marketplace, c.listing_id)]
        old = base.by_id[(c.marketplace, c.detail["relisted_from"])]
        assert new.image == old.image and new.seller != old.seller
        assert new.title.startswith(old.title) and new.relisted_from == old.listing_id
        assert new.search_keys == old.search_keys  # found by the same searches


def test_server_day_switches_what_is_served() -> None:
    with FixtureServer(port=0, hard=False, seed=7, day=0) as server:
        gone = next(c for c in Catalogue(7, 1, hard=False).changes if c.change == "removed"
                    and c.marketplace == "bazaar")
        url = f"{server.url}/bazaar/itm/{gone.listing_id}"
        assert b"This listing was ended" not in fetch(url).body
        server.app.set_day(1)
        page = fetch(url)
        assert page.status == 200 and b"This listing was ended" in page.body
        assert json.loads(fetch(server.url + "/_fixtures/health").body)["day"] == 1
        megamart = next(c for c in server.app.catalogue.changes if c.change == "removed"
                        and c.marketplace == "megamart")
        assert fetch(f"{server.url}/megamart/dp/{megamart.listing_id}").status == 404


def test_changes_and_truth_commands_agree() -> None:
    run = [sys.executable, "-m", "fixtures"]
    changes = [json.loads(line) for line in subprocess.run(
        [*run, "changes", "--day", "2"], capture_output=True, text=True, check=True
    ).stdout.splitlines()]
    truth = [json.loads(line) for line in subprocess.run(
        [*run, "truth", "--day", "2"], capture_output=True, text=True, check=True
    ).stdout.splitlines()]
    served = {(r["marketplace"], r["listing_id"]) for r in truth}
    for c in changes:
        key = (c["marketplace"], c["listing_id"])
        assert (key in served) == (c["change"] != "removed"), c
    assert {r["relisted_from"] for r in truth if "relisted_from" in r} == {
        c["relisted_from"] for c in changes if c["change"] == "relisted"}


def test_relisted_sellers_stay_in_their_network() -> None:
    from fixtures.catalogue import Catalogue

    world = Catalogue(7, day=3, hard=True)
    relisted = [x for x in world.listings if x.relisted_from]
    assert relisted
    owners: dict[tuple[str, str], set[str | None]] = {}
    for x in [*world.listings, *world.removed.values()]:
        owners.setdefault((x.marketplace, x.seller), set()).add(x.seller_network)
    for x in relisted:
        old = world.removed[x.marketplace, str(x.relisted_from)]
        assert x.seller_network == old.seller_network and x.seller != old.seller
        assert owners[x.marketplace, x.seller] == {x.seller_network}  # one operator
