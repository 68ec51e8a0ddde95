"""``brandsweep queue list|clear``: what distributed sweeps hold in Redis, and clearing a
stuck one."""

from __future__ import annotations

import click

from crawler.cli.options import echo_json

_redis = click.option("--redis", "redis_url", required=True, metavar="URL",
                      envvar="BRANDSWEEP_REDIS", help="The shared Redis (BRANDSWEEP_REDIS).")


@click.group("queue")
def queue_group() -> None:
    """The shared queue of distributed sweeps (see README, Distributed sweeps)."""


@queue_group.command("list")
@_redis
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def list_queues(redis_url: str, as_json: bool) -> None:
    """Every marketplace queue Redis holds, with its counts (STORE.SWEEP.MARKETPLACE)."""
    from dataclasses import asdict

    from crawler.distributed.coordinator import open_queue

    queue = open_queue(redis_url)
    counts = {qid: queue.counts(qid) for qid in queue.sweeps()}
    if as_json:
        echo_json({qid: asdict(c) for qid, c in counts.items()})
        return
    if not counts:
        click.echo("no queues: no distributed sweep is running")
    for qid, c in counts.items():
        click.echo(f"{qid}  queued {c.queued}  leased {c.leased}  done {c.acked}  "
                   f"dead {c.dead}  outstanding {c.outstanding}")


@queue_group.command("clear")
@_redis
@click.argument("queue_ids", nargs=-1, required=True, metavar="QUEUE_ID...")
def clear_queues(redis_url: str, queue_ids: tuple[str, ...]) -> None:
    """Remove queues whole (requests, leases, results not yet stored): for a sweep whose
    coordinator is gone for good. Its workers drop their results for it."""
    from crawler.distributed.coordinator import open_queue

    queue = open_queue(redis_url)
    known = set(queue.sweeps())
    for qid in queue_ids:
        if qid not in known:
            raise click.BadParameter(f"no queue {qid!r} in {redis_url}; `brandsweep queue "
                                     "list` shows them", param_hint="QUEUE_ID")
    for qid in queue_ids:
        click.echo(f"cleared {qid}: {queue.clear(qid)} requests were outstanding")
