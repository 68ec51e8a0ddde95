"""Cases: every listing a rule set stages, followed from suspect to removed (or relisted).

A case's status moves ``open`` -> ``confirmed`` | ``dismissed`` (a person, with a reason)
-> ``noticed`` (in a draft) -> ``submitted`` -> ``removed`` | ``still_live``, and a removed
case becomes ``relisted`` when its seller comes back with a near-identical listing. Every
change is a row in ``case_events`` (when, who, what, why); nothing is ever deleted.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from crawler.exceptions import CaseStateError, UnknownCase, known
from crawler.store import Store, evaluations, evidence, listings, notices, now
from crawler.store import cases as case_rows

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "confirm": (frozenset({"open"}), "confirmed"),
    "dismiss": (frozenset({"open", "confirmed"}), "dismissed"),
    "reopen": (frozenset({"dismissed"}), "open"),
    "notice": (frozenset({"open", "confirmed"}), "noticed"),
    "submit": (frozenset({"noticed"}), "submitted"),
    "removed": (frozenset({"submitted", "still_live"}), "removed"),
    "still_live": (frozenset({"submitted", "still_live"}), "still_live"),
    "relisted": (frozenset({"removed"}), "relisted"),
}
RELIST_TITLE_SIMILARITY = 92  # rapidfuzz ratio (0-100) of the folded titles
# counterfeit titles are formulaic: a title-only match must also keep its price this close
RELIST_PRICE_TOLERANCE = 0.2
# one seller's photo pool covers several products: a photo match must be the same product
RELIST_IMAGE_TITLE_SIMILARITY = 60


def default_actor() -> str:
    """Who did it, when ``--by`` is not given: the OS user."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. a bare container uid
        return "unknown"


@dataclass
class SyncResult:
    """What staging a brand's verdicts did to its cases."""

    opened: list[int] = field(default_factory=list)
    restaged: int = 0
    by_stage: dict[str, int] = field(default_factory=dict)  # new cases per stage


def sync(store: Store, brand: str, by: str, sweep_id: int | None = None) -> SyncResult:
    """Open a case for every listing the brand's rule set stages and that has none, and
    follow stage changes of open cases; one transaction."""
    result = SyncResult()
    at = now()
    with store.transaction():
        rows = case_rows.staged(store, brand)
        for market, lid, stage, score, version, case_id, old_stage, status in rows:
            if case_id is None:
                new_id = case_rows.open_case(store, brand, market, lid, stage, score, at,
                                             sweep_id)
                _event(store, new_id, by, "open", None, "open",
                       f"staged {stage} (score {score}) by rule set {version}", sweep_id, at)
                result.opened.append(new_id)
                result.by_stage[stage] = result.by_stage.get(stage, 0) + 1
            elif stage != old_stage and status in ("open", "confirmed"):
                # only cases nobody has acted on follow the rules; the rest keep their stage
                case_rows.restage(store, case_id, stage, score, at)
                _event(store, case_id, by, "restage", status, status,
                       f"stage {old_stage} -> {stage or 'none'} (score {score}) by rule set "
                       f"{version}", sweep_id, at)
                result.restaged += 1
    return result


def transition(store: Store, case_ids: Iterable[int], action: str, by: str,
               reason: str | None = None, sweep_id: int | None = None) -> list[int]:
    """Apply ``action`` to every case, or to none if any cannot take it; return the ids.
    Inside the caller's ``store.transaction()`` these writes are part of it."""
    with store.transaction():
        return _transition(store, list(dict.fromkeys(case_ids)), action, by, reason,
                           sweep_id)


def _transition(store: Store, ids: list[int], action: str, by: str, reason: str | None,
                sweep_id: int | None) -> list[int]:
    allowed, target = TRANSITIONS[action]
    at = now()
    for case_id in ids:
        status = case_rows.status(store, case_id)
        if status is None:
            raise UnknownCase(f"no case {case_id} in {store.path}; `brandsweep review "
                              "list` shows the cases")
        if status not in allowed:
            raise CaseStateError(
                f"case {case_id} is {status}: it cannot be {target} (only a case that "
                f"is {' or '.join(sorted(allowed))} can); nothing was changed")
        case_rows.set_status(store, case_id, target, at)
        _event(store, case_id, by, action, status, target, reason, sweep_id, at)
    return ids


def _event(store: Store, case_id: int, by: str, action: str, from_status: str | None,
           to_status: str | None, reason: str | None, sweep_id: int | None, at: str) -> None:
    case_rows.add_event(store, case_id, by, action, from_status, to_status, reason, sweep_id,
                        at)


def record(store: Store, case_id: int, by: str, action: str, reason: str,
           sweep_id: int | None = None) -> None:
    """An event that does not change the status (evidence captured, verified, ...); part
    of the caller's ``store.transaction()`` when there is one."""
    _event(store, case_id, by, action, None, None, reason, sweep_id, now())


def link_relistings(store: Store, brand: str, by: str, sweep_id: int | None = None
                    ) -> list[tuple[int, int]]:
    """Link new cases to removed ones on the same marketplace whose seller came back with
    the same photo (image hash) or a near-identical title, listed after the removal.
    The removed case becomes ``relisted``; return (new case, old case) pairs."""
    from rapidfuzz import fuzz

    from crawler.rules.text import plain

    removed = case_rows.relisting_candidates(store, brand, removed=True)
    if not removed:
        return []
    fresh = case_rows.relisting_candidates(store, brand, removed=False)
    links: list[tuple[int, int, str]] = []
    taken: set[int] = set()
    for new_id, market, first_seen, title, image, price in fresh:
        # a seller reuses one pool of photos across listings: when several removed cases
        # share the photo, the one with the closest title is the listing that came back
        best: tuple[bool, float, int] | None = None
        for old_id, old_market, removed_at, old_title, old_image, old_price in removed:
            if old_id in taken or old_market != market or first_seen <= removed_at:
                continue
            ratio = fuzz.ratio(plain(title).text, plain(old_title).text)
            same_image = image is not None and image == old_image and \
                ratio >= RELIST_IMAGE_TITLE_SIMILARITY
            near_title = ratio >= RELIST_TITLE_SIMILARITY and _close(price, old_price)
            if (same_image or near_title) and \
                    (best is None or (same_image, ratio) > best[:2]):
                best = (same_image, ratio, old_id)
        if best is not None:
            links.append((new_id, best[2], "same image" if best[0] else
                          "near-identical title"))
            taken.add(best[2])
    at = now()
    with store.transaction():
        for new_id, old_id, how in links:
            case_rows.set_relisted_from(store, new_id, old_id, at)
            _event(store, new_id, by, "link", None, None,
                   f"relisting of removed case {old_id} ({how})", sweep_id, at)
            case_rows.set_status(store, old_id, "relisted", at)
            _event(store, old_id, by, "relisted", "removed", "relisted",
                   f"seller came back as case {new_id} ({how})", sweep_id, at)
    return [(new_id, old_id) for new_id, old_id, _how in links]


def _close(price: str | None, old: str | None) -> bool:
    """Prices within the tolerance (or one unknown)."""
    try:
        a, b = float(price or ""), float(old or "")
    except ValueError:
        return True
    return abs(a - b) <= RELIST_PRICE_TOLERANCE * max(a, b)


def cases(store: Store, brand: str | None = None, stage: str | None = None,
          status: str | None = None, marketplace: str | None = None,
          limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
    """Cases with their listing's title, price, seller and URL, oldest first; at most
    ``limit`` of them (None: all) after the first ``offset``."""
    return case_rows.listed(store, brand, stage, status, marketplace, limit, offset)


def count(store: Store, brand: str | None = None, stage: str | None = None,
          status: str | None = None, marketplace: str | None = None) -> int:
    """How many cases ``cases`` selects with the same filters, without a limit."""
    return sum(case_rows.counts(store, brand=brand, marketplace=marketplace, stage=stage,
                                status=status).values())


def case(store: Store, case_id: int) -> dict[str, Any]:
    """One case in full: listing, verdict, evidence, notices and every event."""
    out = known(case_rows.get(store, case_id), UnknownCase, "case", case_id, store.path,
                "`brandsweep review list` shows the cases")
    out["listing"] = listings.get(store, out["marketplace"], out["listing_id"])
    verdict = evaluations.of_listing(store, out["brand"], out["marketplace"],
                                     out["listing_id"])
    if verdict is not None:
        out["evaluation"] = verdict
    out["evidence"] = evidence.of_case(store, case_id)
    out["notices"] = notices.of_case(store, case_id)
    out["events"] = case_rows.events(store, case_id)
    return out


# decisions a person takes back with ``undo``; the rest (notice, submit, ...) have their
# own paper trail outside the store and are not undone here
UNDOABLE = frozenset({"confirm", "dismiss", "reopen"})


def undo(store: Store, case_ids: Iterable[int], by: str) -> list[int]:
    """Take back each case's last decision (confirm, dismiss or reopen): the case goes
    back to the status it had, with a new ``undo`` event (nothing is deleted). All or
    none; return the ids."""
    ids = list(dict.fromkeys(case_ids))
    at = now()
    with store.transaction():
        for case_id in ids:
            status = known(case_rows.status(store, case_id), UnknownCase, "case", case_id,
                           store.path, "`brandsweep review list` shows the cases")
            last = _last_decision(store, case_id)
            if last is None or last[3] != status:
                raise CaseStateError(
                    f"case {case_id} is {status} and has no confirm, dismiss or reopen "
                    "left to undo since its last other change; nothing was changed")
            case_rows.set_status(store, case_id, last[2], at)
            _event(store, case_id, by, "undo", status, last[2],
                   f"undo of {last[1]} (event {last[0]})", None, at)
    return ids


def _last_decision(store: Store, case_id: int) -> tuple[int, str, str, str] | None:
    """The case's latest status change that is a decision not undone yet, like an
    editor's undo stack: each ``undo`` event takes back one earlier decision."""
    pending = 0
    for event in case_rows.status_changes(store, case_id):
        if event[1] == "undo":
            pending += 1
        elif event[1] not in UNDOABLE:
            return None  # a notice, submission, ...: decisions before it stay
        elif pending:
            pending -= 1
        else:
            return (event[0], event[1], event[2], event[3])
    return None
