"""Conditions: parsed, never eval'd; quantifiers; errors with positions; triggers."""

from __future__ import annotations

import pytest

from crawler.rules.condition import ConditionError, parse

NAMES = ["brand", "replica", "cheap_price", "cheap_ship", "seller"]


@pytest.mark.parametrize(("condition", "true", "expected"), [
    ("brand and replica", {"brand", "replica"}, True),
    ("brand and replica", {"brand"}, False),
    ("brand and not replica", {"brand"}, True),
    ("brand and (replica or seller)", {"brand", "seller"}, True),
    ("not (brand or replica)", set(), True),
    ("1 of cheap_*", {"cheap_ship"}, True),
    ("all of cheap_*", {"cheap_ship"}, False),
    ("brand and all of cheap_*", {"brand", "cheap_ship", "cheap_price"}, True),
    ("1 of them", {"seller"}, True),
    ("BRAND AND REPLICA", {"brand", "replica"}, None),  # names are case-sensitive
    ("brand or replica and seller", {"brand"}, True),  # and binds tighter
])
def test_evaluates(condition: str, true: set[str], expected: bool | None) -> None:
    if expected is None:
        with pytest.raises(ConditionError):
            parse(condition, NAMES)
        return
    assert parse(condition, NAMES).evaluate(lambda n: n in true) is expected


@pytest.mark.parametrize(("condition", "message", "column"), [
    ("brand and", "ends too early", 9),
    ("brand and (replica", "never closed", 10),
    ("brand replica", "expected 'and', 'or' or the end", 6),
    ("brand and replicca", "did you mean 'replica'", 10),
    ("1 of nothing*", "no selection matches", 5),
    ("brand and __import__('os')", "unexpected", 21),
    ("", "empty", 0),
])
def test_errors_say_where(condition: str, message: str, column: int) -> None:
    with pytest.raises(ConditionError) as err:
        parse(condition, NAMES)
    assert message in str(err.value)
    assert err.value.column == column


def test_triggers_name_selections_one_of_which_must_hit() -> None:
    hit_based = {"brand", "replica"}
    assert parse("brand and replica", NAMES).triggers(hit_based) in (
        frozenset({"brand"}), frozenset({"replica"}))
    assert parse("brand or replica", NAMES).triggers(hit_based) == {"brand", "replica"}
    assert parse("brand or seller", NAMES).triggers(hit_based) is None
    assert parse("not brand", NAMES).triggers(hit_based) is None
    assert parse("seller and (brand or replica)", NAMES).triggers(hit_based) == {
        "brand", "replica"}
