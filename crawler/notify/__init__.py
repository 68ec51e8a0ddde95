"""Notifications through apprise: one digest per sweep (or verify run) to every channel
whose triggers fired, written to the store's outbox first and delivered after.

``after_sweep`` and ``after_verify`` never raise: a notification that fails is a line for
stderr (``Report.line``), never a failed sweep or another exit code.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported lazily: rule set and schedule models import config only
    from crawler.notify.config import Channel
    from crawler.notify.outbox import Report

log = logging.getLogger(__name__)


def _images(db: Path) -> Path:
    from crawler.pipelines.images import images_dir

    return images_dir(db)


def after_sweep(store: Any, channels: list[Channel], *, kind: str, brand: str | None,
                sweep_id: int, status: str, marketplaces: dict[str, dict[str, Any]],
                top_stage: str | None) -> Report:
    """Queue this sweep's digest for ``channels`` and deliver everything pending."""
    from crawler.notify import digest, outbox

    report = outbox.Report()
    try:
        if channels:
            found = digest.for_sweep(store, kind=kind, brand=brand, sweep_id=sweep_id,
                                     status=status, marketplaces=marketplaces,
                                     top_stage=top_stage, images=_images(store.path))
            report.queued = len(outbox.enqueue(store, found, channels))
        sent = outbox.deliver_pending(store)
        sent.queued = report.queued
        return sent
    except Exception as exc:  # never the sweep's problem; say it in one line
        log.exception("notifications failed")
        report.unsent.append((0, "the outbox", f"{type(exc).__name__}: {exc}"))
        return report


def after_verify(store: Any, channels: list[Channel], *, brand: str,
                 removed: list[int]) -> Report:
    """Queue a verify run's digest (cases found removed) and deliver everything pending."""
    from crawler.notify import digest, outbox

    report = outbox.Report()
    try:
        if channels:
            found = digest.for_verify(store, brand=brand, removed=removed,
                                      images=_images(store.path))
            report.queued = len(outbox.enqueue(store, found, channels))
        sent = outbox.deliver_pending(store)
        sent.queued = report.queued
        return sent
    except Exception as exc:
        log.exception("notifications failed")
        report.unsent.append((0, "the outbox", f"{type(exc).__name__}: {exc}"))
        return report


def top_stage(ruleset: Any) -> str | None:
    """The rule set's highest stage (stages are sorted by min_score), or None."""
    stages = getattr(ruleset, "stages", None) or []
    return str(stages[-1].name) if stages else None
