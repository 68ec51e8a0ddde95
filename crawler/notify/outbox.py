"""Messages go through the store: written first, delivered after, marked sent once.

A service that is down keeps its message ``pending``; the next sweep (or ``brandsweep
notify retry``) sends it. After ``GIVE_UP_ROUNDS`` failed rounds a message is ``failed``:
sweeps stop trying it, ``notify retry`` still does, ``notify list`` shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from crawler.notify import deliver
from crawler.notify.config import Channel
from crawler.notify.digest import Digest, Message, message
from crawler.store import Store
from crawler.store import outbox as store_outbox

GIVE_UP_ROUNDS = 5


@dataclass
class Report:
    """What one delivery run did."""

    queued: int = 0
    sent: list[int] = field(default_factory=list)
    unsent: list[tuple[int, str, str]] = field(default_factory=list)  # id, service, why

    def as_dict(self) -> dict[str, object]:
        return {"queued": self.queued, "sent": len(self.sent), "unsent": len(self.unsent)}

    def line(self) -> str | None:
        """One line for stderr when something was not delivered, else None."""
        if not self.unsent:
            return None
        first_id, service, why = self.unsent[0]
        if not first_id:  # the outbox itself failed (the store, a template)
            return f"notifications not queued or delivered: {why}"
        more = f" (and {len(self.unsent) - 1} more)" if len(self.unsent) > 1 else ""
        return (f"notification {first_id} to {service} not delivered: {why}{more}; it "
                "stays in the outbox: `brandsweep notify retry` sends it")


def enqueue(store: Store, digest: Digest, channels: list[Channel]) -> list[int]:
    """Write the digest's message for every channel whose triggers fired; return ids."""
    store_outbox.ensure(store)
    rows = []
    for channel in channels:
        msg = message(digest, channel)
        if msg is None:
            continue
        rows.append(_row(msg, channel.url, digest.kind, digest.brand, digest.sweep_id))
    return store_outbox.add(store, rows)


def enqueue_message(store: Store, msg: Message, url: str, kind: str) -> int:
    """Write one ready message (``notify test``) for ``url``."""
    store_outbox.ensure(store)
    return store_outbox.add(store, [_row(msg, url, kind, None, None)])[0]


def _row(msg: Message, url: str, kind: str, brand: str | None, sweep_id: int | None
         ) -> dict[str, object]:
    return {"kind": kind, "brand": brand, "sweep_id": sweep_id, "triggers": msg.triggers,
            "url": url, "service": deliver.service(url), "title": msg.title,
            "body_text": msg.text, "body_html": msg.html,
            "attachments": [str(a.path) for a in msg.attachments]}


def deliver_pending(store: Store, *, ids: list[int] | None = None,
                    include_failed: bool = False, attempts: int = deliver.ATTEMPTS
                    ) -> Report:
    """Deliver the given messages, or every pending one (and failed ones with
    ``include_failed``), oldest first; each that a service took is marked sent."""
    store_outbox.ensure(store)
    statuses = ("pending", "failed") if include_failed else ("pending",)
    report = Report()
    for row in store_outbox.claim(store, ids=ids, statuses=statuses):
        got = deliver.send(row["url"], row["title"], row["body_text"], row["body_html"],
                           [deliver.Attachment(Path(p)) for p in row["attachments"]],
                           attempts=attempts)
        if got.ok:
            store_outbox.mark_sent(store, row["id"], got.attempts)
            report.sent.append(row["id"])
        else:
            store_outbox.mark_unsent(store, row["id"], got.attempts, got.error or "?",
                                     GIVE_UP_ROUNDS)
            report.unsent.append((row["id"], row["service"], got.error or "?"))
    return report
