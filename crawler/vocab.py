"""The words brandsweep's data is made of, declared once: pydantic models type with the
``Literal`` aliases, Click offers the tuples as choices, the store and the web app check
against them.
"""

from __future__ import annotations

from typing import Literal, get_args

# a case's lifecycle (crawler.cases.lifecycle holds the transitions between them)
CaseStatus = Literal["open", "confirmed", "dismissed", "noticed", "submitted", "removed",
                     "still_live", "relisted"]
CASE_STATUSES: tuple[str, ...] = get_args(CaseStatus)
# statuses at which a person or the marketplace agreed the listing infringes
AGREED_STATUSES: tuple[str, ...] = ("confirmed", "removed", "relisted")

NoticeStatus = Literal["draft", "submitted"]
NOTICE_STATUSES: tuple[str, ...] = get_args(NoticeStatus)

# where a marketplace takes notices (crawler.notices.programs has each one's rules)
NoticeProgram = Literal["dmca", "ebay_vero", "amazon", "alibaba_ipp", "eu_dsa", "email"]
NOTICE_PROGRAMS: tuple[str, ...] = get_args(NoticeProgram)

NoticeFormat = Literal["text", "eml", "md", "json", "csv", "lumen"]
NOTICE_FORMATS: tuple[str, ...] = get_args(NoticeFormat)
NOTICE_SHOW_FORMATS: tuple[str, ...] = ("text", "md", "json")  # for a terminal
ReportFormat = Literal["text", "json", "html"]
REPORT_FORMATS: tuple[str, ...] = get_args(ReportFormat)

# what a listing can carry; profiles may extract any of these
LISTING_FIELDS: tuple[str, ...] = (
    "listing_id", "url", "title", "description", "price", "currency", "seller", "seller_id",
    "seller_url", "seller_location", "ships_from", "image_urls", "units_sold", "moq",
    "condition",
)
REQUIRED_FIELDS: tuple[str, ...] = ("listing_id", "url", "title")
# the fields a rule's condition may test, as text or as numbers
RULE_TEXT_FIELDS: tuple[str, ...] = ("title", "description", "seller", "seller_location",
                                     "ships_from", "condition", "url", "marketplace")
RULE_NUMBER_FIELDS: tuple[str, ...] = ("price", "price_high", "units_sold", "moq")
RULE_FIELDS: tuple[str, ...] = (*RULE_TEXT_FIELDS, *RULE_NUMBER_FIELDS, "currency",
                                "listing_id")
