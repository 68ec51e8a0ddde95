"""The store's connection: ``transaction()`` commits together or rolls back together, and
a transaction inside another joins it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from crawler.cases import lifecycle as cases
from crawler.exceptions import CaseStateError
from crawler.items import Listing
from crawler.store import Store
from crawler.store import cases as case_rows


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "t.db")
    s.migrate()
    return s


def _checkpoints(path: Path) -> list[str]:
    """What another process sees committed in ``sweep_progress``."""
    other = sqlite3.connect(path)
    try:
        return [r[0] for r in other.execute(
            "select marketplace from sweep_progress order by marketplace")]
    finally:
        other.close()


def _sweep(store: Store) -> int:
    return store.start_sweep(kind="sweep", brand="acme", campaign=None, marketplaces=[],
                             keywords=["acme"], max_pages=1)


def test_a_transaction_commits_at_its_end(store: Store) -> None:
    sweep = _sweep(store)
    with store.transaction():
        store.mark_done(sweep, "bazaar", "ok")
        assert _checkpoints(store.path) == []  # not yet visible to anyone else
    assert _checkpoints(store.path) == ["bazaar"]


def test_an_exception_rolls_the_whole_transaction_back(store: Store) -> None:
    sweep = _sweep(store)
    with pytest.raises(RuntimeError), store.transaction():
        store.mark_done(sweep, "bazaar", "ok")
        store.mark_done(sweep, "megamart", "ok")
        raise RuntimeError("killed midway")
    assert _checkpoints(store.path) == []
    # the store is usable as ever afterwards
    store.mark_done(sweep, "shopfront", "ok")
    assert _checkpoints(store.path) == ["shopfront"]


def test_an_inner_transaction_joins_the_outer_one(store: Store) -> None:
    sweep = _sweep(store)
    with store.transaction():
        with store.transaction():
            store.mark_done(sweep, "bazaar", "ok")
        assert _checkpoints(store.path) == []  # the inner end committed nothing
        store.mark_done(sweep, "megamart", "ok")
    assert _checkpoints(store.path) == ["bazaar", "megamart"]


def test_an_exception_from_an_inner_transaction_rolls_back_the_outer(store: Store) -> None:
    sweep = _sweep(store)
    with pytest.raises(RuntimeError), store.transaction():
        store.mark_done(sweep, "bazaar", "ok")
        with store.transaction():
            store.mark_done(sweep, "megamart", "ok")
            raise RuntimeError("inner failure")
    assert _checkpoints(store.path) == []


def test_an_exception_caught_inside_keeps_what_was_written(store: Store) -> None:
    # joining is not a savepoint: the caller that catches decides, the outer end commits
    sweep = _sweep(store)
    with store.transaction():
        try:
            with store.transaction():
                store.mark_done(sweep, "bazaar", "ok")
                raise RuntimeError("caught below")
        except RuntimeError:
            pass
        store.mark_done(sweep, "megamart", "ok")
    assert _checkpoints(store.path) == ["bazaar", "megamart"]


def test_a_transition_in_a_failing_transaction_leaves_no_trace(store: Store) -> None:
    sweep = _sweep(store)
    store.save(sweep, [Listing(marketplace="bazaar", listing_id="1", url="http://x/1",
                               title="acme replica", keyword="acme", render_mode="http")])
    case_id = case_rows.open_case(store, "acme", "bazaar", "1", "takedown", 90, "t", sweep)
    with pytest.raises(CaseStateError), store.transaction():
        cases.transition(store, [case_id], "confirm", "dana", "looks fake")
        cases.transition(store, [case_id], "confirm", "dana", "again")  # not open any more
    assert case_rows.status(store, case_id) == "open"
    assert case_rows.events(store, case_id) == []
