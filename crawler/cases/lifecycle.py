"""Cases: every listing a rule set stages, followed from suspect to removed (or relisted).

A case's status moves ``open`` -> ``confirmed`` | ``dismissed`` (a person, with a reason)
-> ``noticed`` (in a draft) -> ``submitted`` -> ``removed`` | ``still_live``, and a removed
case becomes ``relisted`` when its seller comes back with a near-identical listing. Every
change is a row in ``case_events`` (when, who, what, why); nothing is ever deleted.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from crawler.exceptions import CaseStateError, UnknownCase
from crawler.store import Store, now

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
    conn = store.db.conn
    with conn:
        rows = conn.execute(
            "select e.marketplace, e.listing_id, e.stage, e.score, e.version, c.id, c.stage, "
            "c.status from evaluations e left join cases c on c.brand = e.brand and "
            "c.marketplace = e.marketplace and c.listing_id = e.listing_id "
            "where e.brand = ? and (e.stage is not null or c.id is not null) "
            "order by e.marketplace, e.listing_id", [brand]).fetchall()
        for market, lid, stage, score, version, case_id, old_stage, status in rows:
            if case_id is None:
                cur = conn.execute(
                    "insert into cases (brand, marketplace, listing_id, stage, score, status, "
                    "opened_at, updated_at, sweep_id) values (?, ?, ?, ?, ?, 'open', ?, ?, ?)",
                    [brand, market, lid, stage, score, at, at, sweep_id])
                new_id = int(cur.lastrowid or 0)
                _event(conn, new_id, by, "open", None, "open",
                       f"staged {stage} (score {score}) by rule set {version}", sweep_id, at)
                result.opened.append(new_id)
                result.by_stage[stage] = result.by_stage.get(stage, 0) + 1
            elif stage != old_stage and status in ("open", "confirmed"):
                # only cases nobody has acted on follow the rules; the rest keep their stage
                conn.execute("update cases set stage = ?, score = ?, updated_at = ? "
                             "where id = ?", [stage, score, at, case_id])
                _event(conn, case_id, by, "restage", status, status,
                       f"stage {old_stage} -> {stage or 'none'} (score {score}) by rule set "
                       f"{version}", sweep_id, at)
                result.restaged += 1
    return result


def transition(store: Store, case_ids: Iterable[int], action: str, by: str,
               reason: str | None = None, sweep_id: int | None = None,
               in_transaction: bool = False) -> list[int]:
    """Apply ``action`` to every case, or to none if any cannot take it; return the ids.
    ``in_transaction``: the caller's open transaction holds these writes."""
    if in_transaction:
        return _transition(store, list(dict.fromkeys(case_ids)), action, by, reason,
                           sweep_id)
    with store.db.conn:
        return _transition(store, list(dict.fromkeys(case_ids)), action, by, reason,
                           sweep_id)


def _transition(store: Store, ids: list[int], action: str, by: str, reason: str | None,
                sweep_id: int | None) -> list[int]:
    allowed, target = TRANSITIONS[action]
    at = now()
    conn = store.db.conn
    for case_id in ids:
        row = conn.execute("select status from cases where id = ?", [case_id]).fetchone()
        if row is None:
            raise UnknownCase(f"no case {case_id} in {store.path}; `brandsweep review "
                              "list` shows the cases")
        if row[0] not in allowed:
            raise CaseStateError(
                f"case {case_id} is {row[0]}: it cannot be {target} (only a case that "
                f"is {' or '.join(sorted(allowed))} can); nothing was changed")
        conn.execute("update cases set status = ?, updated_at = ? where id = ?",
                     [target, at, case_id])
        _event(conn, case_id, by, action, row[0], target, reason, sweep_id, at)
    return ids


def _event(conn: Any, case_id: int, by: str, action: str, from_status: str | None,
           to_status: str | None, reason: str | None, sweep_id: int | None, at: str) -> None:
    conn.execute("insert into case_events (case_id, at, by, action, from_status, to_status, "
                 "reason, sweep_id) values (?, ?, ?, ?, ?, ?, ?, ?)",
                 [case_id, at, by, action, from_status, to_status, reason, sweep_id])


def record(store: Store, case_id: int, by: str, action: str, reason: str,
           sweep_id: int | None = None) -> None:
    """An event that does not change the status (evidence captured, verified, ...);
    call inside the caller's transaction."""
    _event(store.db.conn, case_id, by, action, None, None, reason, sweep_id, now())


def link_relistings(store: Store, brand: str, by: str, sweep_id: int | None = None
                    ) -> list[tuple[int, int]]:
    """Link new cases to removed ones on the same marketplace whose seller came back with
    the same photo (image hash) or a near-identical title, listed after the removal.
    The removed case becomes ``relisted``; return (new case, old case) pairs."""
    from rapidfuzz import fuzz

    from crawler.rules.text import plain

    conn = store.db.conn
    removed = conn.execute(
        "select c.id, c.marketplace, c.updated_at, l.title, v.image_sha256, l.price "
        "from cases c "
        "join listings l on l.marketplace = c.marketplace and l.listing_id = c.listing_id "
        "left join evidence v on v.case_id = c.id where c.brand = ? and c.status = 'removed'",
        [brand]).fetchall()
    if not removed:
        return []
    fresh = conn.execute(
        "select c.id, c.marketplace, l.first_seen, l.title, v.image_sha256, l.price "
        "from cases c "
        "join listings l on l.marketplace = c.marketplace and l.listing_id = c.listing_id "
        "left join evidence v on v.case_id = c.id where c.brand = ? and "
        "c.relisted_from is null and c.status in ('open', 'confirmed')", [brand]).fetchall()
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
    with conn:
        for new_id, old_id, how in links:
            conn.execute("update cases set relisted_from = ?, updated_at = ? where id = ?",
                         [old_id, at, new_id])
            _event(conn, new_id, by, "link", None, None,
                   f"relisting of removed case {old_id} ({how})", sweep_id, at)
            conn.execute("update cases set status = 'relisted', updated_at = ? where id = ?",
                         [at, old_id])
            _event(conn, old_id, by, "relisted", "removed", "relisted",
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
          status: str | None = None) -> list[dict[str, Any]]:
    """Cases with their listing's title, price, seller and URL, oldest first."""
    sql = ("select c.*, l.title, l.price, l.currency, l.seller, l.url, "
           "(select 1 from evidence v where v.case_id = c.id) as has_evidence from cases c "
           "join listings l on l.marketplace = c.marketplace and l.listing_id = c.listing_id "
           "where 1 = 1")
    params: list[Any] = []
    for column, value in (("brand", brand), ("stage", stage), ("status", status)):
        if value is not None:
            sql += f" and c.{column} = ?"
            params.append(value)
    return list(store.db.query(sql + " order by c.id", params))


def case(store: Store, case_id: int) -> dict[str, Any]:
    """One case in full: listing, verdict, evidence, notices and every event."""
    found = [c for c in store.db.query("select * from cases where id = ?", [case_id])]
    if not found:
        raise UnknownCase(f"no case {case_id} in {store.path}; `brandsweep review list` "
                          "shows the cases")
    out = dict(found[0])
    key = [out["marketplace"], out["listing_id"]]
    out["listing"] = next(store.db.query(
        "select * from listings where marketplace = ? and listing_id = ?", key))
    verdict = list(store.db.query(
        "select version, score, stage, matches, evaluated_at from evaluations where "
        "brand = ? and marketplace = ? and listing_id = ?", [out["brand"], *key]))
    if verdict:
        out["evaluation"] = dict(verdict[0], matches=json.loads(verdict[0]["matches"]))
    ev = list(store.db.query("select * from evidence where case_id = ?", [case_id]))
    out["evidence"] = ev[0] if ev else None
    out["notices"] = list(store.db.query(
        "select n.id, n.program, n.status, n.created_at from notice_items i join notices n "
        "on n.id = i.notice_id where i.case_id = ? order by n.id", [case_id]))
    out["events"] = list(store.db.query(
        "select at, by, action, from_status, to_status, reason from case_events "
        "where case_id = ? order by id", [case_id]))
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
    conn = store.db.conn
    with conn:
        for case_id in ids:
            row = conn.execute("select status from cases where id = ?", [case_id]).fetchone()
            if row is None:
                raise UnknownCase(f"no case {case_id} in {store.path}; `brandsweep review "
                                  "list` shows the cases")
            last = _last_decision(conn, case_id)
            if last is None or last[3] != row[0]:
                raise CaseStateError(
                    f"case {case_id} is {row[0]} and has no confirm, dismiss or reopen "
                    "left to undo since its last other change; nothing was changed")
            conn.execute("update cases set status = ?, updated_at = ? where id = ?",
                         [last[2], at, case_id])
            _event(conn, case_id, by, "undo", row[0], last[2],
                   f"undo of {last[1]} (event {last[0]})", None, at)
    return ids


def _last_decision(conn: Any, case_id: int) -> tuple[int, str, str, str] | None:
    """The case's latest status change that is a decision not undone yet, like an
    editor's undo stack: each ``undo`` event takes back one earlier decision."""
    pending = 0
    for event in conn.execute(
            "select id, action, from_status, to_status from case_events where case_id = ? "
            "and to_status is not null and from_status is not to_status order by id desc",
            [case_id]):
        if event[1] == "undo":
            pending += 1
        elif event[1] not in UNDOABLE:
            return None  # a notice, submission, ...: decisions before it stay
        elif pending:
            pending -= 1
        else:
            return (event[0], event[1], event[2], event[3])
    return None
