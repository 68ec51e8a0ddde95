"""``brandsweep queue list|clear`` against a real redis-server."""

from __future__ import annotations

import json
import subprocess

import pytest

from crawler.distributed.connection import connect
from crawler.distributed.queue import LeasedQueue
from tests.cli import SCRIPT

pytestmark = [pytest.mark.redis]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SCRIPT, "queue", *args], capture_output=True, text=True,
                          timeout=60)


def test_list_shows_a_stuck_queue_and_clear_removes_it(redis_url: str) -> None:
    queue = LeasedQueue(connect(redis_url))
    qid = "abcdef012345.7.bazaar"
    queue.set_job(qid, {"marketplace": "bazaar"})
    queue.push(qid, {"url": "http://127.0.0.1:1/a", "method": "GET"}, fingerprint="a")
    queue.push(qid, {"url": "http://127.0.0.1:1/b", "method": "GET"}, fingerprint="b")
    assert queue.lease("w1", 30, sweep_id=qid) is not None
    listed = _cli("list", "--redis", redis_url, "--json")
    assert listed.returncode == 0, listed.stderr
    counts = json.loads(listed.stdout)[qid]
    assert (counts["queued"], counts["leased"], counts["outstanding"]) == (1, 1, 2)
    assert qid in _cli("list", "--redis", redis_url).stdout
    cleared = _cli("clear", "--redis", redis_url, qid)
    assert cleared.returncode == 0, cleared.stderr
    assert cleared.stdout.strip() == f"cleared {qid}: 2 requests were outstanding"
    assert qid not in queue.sweeps() and queue.job(qid) is None
    unknown = _cli("clear", "--redis", redis_url, qid)
    assert unknown.returncode == 2
    assert f"no queue {qid!r}" in unknown.stderr


def test_an_unreachable_redis_is_one_line_and_exit_2() -> None:
    done = _cli("list", "--redis", "redis://:secret@127.0.0.1:1/0")
    assert done.returncode == 2
    assert done.stderr.strip() == done.stderr.strip().splitlines()[0]
    assert "redis://:***@127.0.0.1:1/0" in done.stderr and "secret" not in done.stderr
