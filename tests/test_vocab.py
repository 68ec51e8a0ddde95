"""The vocabulary is declared once: every table that names statuses, programs or formats
agrees with ``crawler.vocab``."""

from __future__ import annotations

from typing import get_args

from crawler import vocab
from crawler.cases.lifecycle import TRANSITIONS
from crawler.notices import export
from crawler.notices.programs import PROGRAMS, STOREFRONT_PROGRAMS
from crawler.profiles.model import MarketplaceProfile


def test_every_program_has_its_rules_and_no_rules_lack_a_name() -> None:
    assert set(PROGRAMS) == set(vocab.NOTICE_PROGRAMS)
    assert set(vocab.NOTICE_PROGRAMS) >= STOREFRONT_PROGRAMS


def test_profiles_accept_exactly_the_programs() -> None:
    field = MarketplaceProfile.model_fields["notice_program"]
    assert set(get_args(field.annotation)) == set(vocab.NOTICE_PROGRAMS)


def test_case_transitions_move_between_known_statuses() -> None:
    for starts, ends in TRANSITIONS.values():
        assert starts <= set(vocab.CASE_STATUSES)
        assert ends in vocab.CASE_STATUSES
    assert set(vocab.AGREED_STATUSES) <= set(vocab.CASE_STATUSES)


def test_notices_export_to_every_format_and_no_other() -> None:
    assert export.FORMATS == vocab.NOTICE_FORMATS
    assert set(export.EXTENSIONS) == set(vocab.NOTICE_FORMATS)
    assert set(vocab.NOTICE_SHOW_FORMATS) <= set(vocab.NOTICE_FORMATS)


def test_rule_fields_are_fields_a_listing_carries_or_derives() -> None:
    derived = {"marketplace", "price_high"}  # set by the spider and the normaliser
    assert set(vocab.RULE_FIELDS) - set(vocab.LISTING_FIELDS) <= derived
    assert set(vocab.REQUIRED_FIELDS) <= set(vocab.LISTING_FIELDS)
