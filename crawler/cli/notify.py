"""``brandsweep notify list|retry|test``: the notification outbox, and trying a URL."""

from __future__ import annotations

import json
from pathlib import Path

import click

from crawler.cli.options import db_option, json_option, open_store
from crawler.exceptions import NotificationFailed


@click.group()
def notify() -> None:
    """The notification outbox: what was sent, what waits; try a service's URL."""


@notify.command("list")
@click.option("--status", "statuses", multiple=True,
              type=click.Choice(["pending", "sending", "sent", "failed"]),
              help="Only messages with this status (repeatable).")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True,
              help="The newest this many.")
@db_option
@json_option
def notify_list(statuses: tuple[str, ...], limit: int, db: Path, as_json: bool) -> None:
    """The newest messages in the outbox, newest first (URLs with their secrets
    masked)."""
    from crawler.store import outbox as store_outbox

    store = open_store(db)
    store_outbox.ensure(store)
    rows = store_outbox.messages(store, statuses or None, limit)
    if as_json:
        click.echo(json.dumps({"counts": store_outbox.counts(store), "messages": rows},
                              indent=2, sort_keys=True))
        return
    counts = store_outbox.counts(store)
    click.echo(", ".join(f"{counts.get(s, 0)} {s}" for s in store_outbox.STATUSES))
    for r in rows:
        when = r["sent_at"] or r["last_attempt_at"] or r["created_at"]
        click.echo(f"{r['id']:>5} {r['status']:<8} {when[:19]} {r['kind']:<6} "
                   f"{r['service']}  {r['title']}")
        if r["status"] != "sent" and r["last_error"]:
            click.echo(f"      after {r['attempts']} attempts: {r['last_error']}")


@notify.command("retry")
@click.option("--id", "ids", multiple=True, type=click.IntRange(1, None),
              help="Only this message (repeatable; default: every pending or failed one).")
@db_option
def notify_retry(ids: tuple[int, ...], db: Path) -> None:
    """Deliver every message still waiting in the outbox (pending, or failed after the
    sweeps' own retries), oldest first; each is sent once. Exit 1 if some still fail."""
    from crawler.notify import outbox

    report = outbox.deliver_pending(open_store(db), ids=list(ids) or None,
                                    include_failed=True)
    click.echo(f"{len(report.sent)} sent, {len(report.unsent)} not delivered")
    for msg_id, service, why in report.unsent[1:]:
        click.echo(f"  notification {msg_id} to {service}: {why}", err=True)
    if report.unsent:
        msg_id, service, why = report.unsent[0]
        raise NotificationFailed(f"notification {msg_id} to {service} not delivered: {why}; "
                                 "it stays in the outbox (`brandsweep notify list`)")


@notify.command("test")
@click.argument("url")
def notify_test(url: str) -> None:
    """Send a test message to URL (any apprise URL) now, with the sweeps' retries;
    nothing is written to the store."""
    from crawler.notify import config, deliver, digest

    config.from_cli([url], option="URL")
    msg = digest.test_message()
    got = deliver.send(url.strip(), msg.title, msg.text, msg.html)
    if not got.ok:
        raise NotificationFailed(f"{deliver.service(url.strip())} did not take the test "
                                 f"message after {got.attempts} attempts: {got.error}")
    click.echo(f"sent to {deliver.service(url.strip())}")
