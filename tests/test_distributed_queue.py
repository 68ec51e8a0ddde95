"""The leased request queue, the request codec and the Redis connection, on a real
redis-server (the ``redis_url`` fixture); workers killed with SIGKILL mid-request."""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
import scrapy
from scrapy.http import FormRequest

from crawler.distributed import codec
from crawler.distributed.connection import connect
from crawler.distributed.queue import LeasedQueue, QueuedRequest, SweepCounts
from crawler.exceptions import RedisUnavailable

pytestmark = pytest.mark.redis


class Shop(scrapy.Spider):
    name = "shop"

    def parse_search(self, response: object) -> None:
        pass

    def parse_item(self, response: object, keyword: str = "") -> None:
        pass

    def failed(self, failure: object) -> None:
        pass


@pytest.fixture
def queue(redis_url: str) -> Iterator[LeasedQueue]:
    """A queue under a prefix of its own, so tests share one server without meeting."""
    client = connect(redis_url)
    yield LeasedQueue(client, prefix=f"test-{uuid.uuid4().hex[:8]}:", max_redeliveries=2)
    client.close()


def req(n: int | str, **meta: object) -> dict[str, object]:
    return {"url": f"http://shop.test/item/{n}", "meta": {"id": str(n), **meta}}


def expire(queue: LeasedQueue) -> tuple[int, int]:
    """Reap until a lease has run out (leases here last 50 ms): no clock in the asserts."""
    while True:
        got = queue.reap()
        if got != (0, 0):
            return got
        time.sleep(0.02)


def invariant(c: SweepCounts) -> None:
    assert c.outstanding == c.seeded + c.spawned - c.acked - c.dead


# --- the codec --------------------------------------------------------------------------

def test_a_scrapy_request_round_trips_through_the_queue(queue: LeasedQueue) -> None:
    spider = Shop()
    original = scrapy.Request(
        "http://shop.test/s?q=acmé&page=2", callback=spider.parse_item, errback=spider.failed,
        method="POST", body=b"\x00\xffraw", headers={"X-Trace": "a", "Accept": "text/html"},
        cookies={"session": "s1"}, meta={"keyword": "acme", "page": 2, "render": "http",
                                         "nested": {"list": [1, 2.5, None, True]}},
        cb_kwargs={"keyword": "acme"}, priority=7, dont_filter=True, flags=["seed"])
    queue.push("sweep1", codec.request_to_dict(original, spider), original.priority)
    lease = queue.lease("w1", 30)
    assert lease is not None and lease.sweep_id == "sweep1"
    back = codec.request_of(lease.request, spider)
    assert type(back) is scrapy.Request
    assert back.url == original.url and back.method == "POST" and back.body == original.body
    assert back.headers.to_unicode_dict() == original.headers.to_unicode_dict()
    assert back.meta == original.meta and back.cb_kwargs == original.cb_kwargs
    assert back.cookies == original.cookies and back.flags == ["seed"]
    assert back.priority == 7 and back.dont_filter is True
    assert back.callback == spider.parse_item and back.errback == spider.failed


def test_a_form_request_keeps_its_class(queue: LeasedQueue) -> None:
    spider = Shop()
    form = FormRequest("http://shop.test/login", formdata={"user": "ana"},
                       callback=spider.parse_search)
    text = codec.dumps(codec.request_to_dict(form, spider))
    back = codec.request_of(codec.loads(text), spider)
    assert type(back) is FormRequest and back.body == form.body
    assert back.callback == spider.parse_search


@pytest.mark.parametrize(("meta", "where"), [
    ({"page_obj": object()}, "meta['page_obj'] is a object"),
    ({"pair": (1, 2)}, "meta['pair'] is a tuple"),
    ({"score": float("nan")}, "meta['score'] is nan"),
    ({"raw": b"x"}, "meta['raw'] is a bytes"),
    ({"deep": [{"x": {1, 2}}]}, "meta['deep'][0]['x'] is a set"),
])
def test_only_plain_data_is_queued(queue: LeasedQueue, meta: dict[str, object],
                                   where: str) -> None:
    request = scrapy.Request("http://shop.test/", meta=meta)
    with pytest.raises(TypeError, match=r"plain data|finite numbers") as caught:
        queue.push("s", codec.request_to_dict(request))
    assert where in str(caught.value)
    assert queue.counts("s").seeded == 0


def test_a_tampered_class_is_refused() -> None:
    text = codec.dumps({"url": "http://shop.test/"}).replace('"url"', '"_class":"os.system","url"')
    with pytest.raises(ValueError, match=r"os\.system"):
        codec.loads(text)
    with pytest.raises(TypeError, match="cannot be queued"):
        codec.dumps({"url": "http://shop.test/", "_class": "os.system"})
    with pytest.raises(ValueError, match="not a queued request"):
        codec.loads('{"url": "http://shop.test/"}')


def test_queued_request_of_a_scrapy_request(queue: LeasedQueue) -> None:
    from scrapy.utils.request import RequestFingerprinter

    spider = Shop()
    fingerprint = RequestFingerprinter().fingerprint
    page = scrapy.Request("http://shop.test/s?q=acme", callback=spider.parse_search,
                          priority=3)
    again = scrapy.Request("http://shop.test/s?q=acme", callback=spider.parse_search,
                           dont_filter=True)
    first = QueuedRequest.of(page, spider, fingerprint(page))
    assert first.priority == 3 and first.fingerprint == fingerprint(page).hex()
    assert QueuedRequest.of(again, spider, fingerprint(again)).fingerprint is None
    assert queue.push_many("s", [first, first, QueuedRequest.of(again, spider)]) == 2
    assert queue.counts("s").duplicates == 1


def test_items_must_be_json(queue: LeasedQueue) -> None:
    queue.push("s", req(1))
    lease = queue.lease("w1", 30)
    assert lease is not None
    with pytest.raises(TypeError):
        queue.ack(lease.lease_id, items=[{"seen": {1, 2}}])
    assert queue.counts("s").acked == 0  # nothing half-done
    assert queue.ack(lease.lease_id, items=[{"price": 9.5}]) == 0


# --- one process, step by step ----------------------------------------------------------

def test_outstanding_is_exact_at_every_step(queue: LeasedQueue) -> None:
    assert queue.push("s", req(1), fingerprint="f1") is True
    assert queue.push("s", req(1), fingerprint="f1") is False  # seen: not enqueued
    assert queue.push("s", req(2), fingerprint="f2") is True
    assert queue.outstanding("s") == 2
    first = queue.lease("w1", 30)
    assert first is not None
    assert queue.outstanding("s") == 2  # leased is still outstanding
    added = queue.ack(first.lease_id, [QueuedRequest(req(3), 0, "f3"),
                                       QueuedRequest(req(2), 0, "f2"),  # seen before
                                       QueuedRequest(req(4), 0, None)],  # never filtered
                      items=[{"listing": "a"}])
    assert added == 2
    c = queue.counts("s")
    invariant(c)
    assert (c.seeded, c.spawned, c.duplicates, c.acked, c.outstanding) == (2, 2, 2, 1, 3)
    assert (c.queued, c.leased, c.items) == (3, 0, 1)
    done = 1
    while (lease := queue.lease("w1", 30)) is not None:
        assert queue.outstanding("s") == 4 - done
        assert queue.ack(lease.lease_id, items=[{"id": lease.request["meta"]["id"]}]) == 0
        done += 1
        invariant(queue.counts("s"))
    c = queue.counts("s")
    assert c.done and (c.acked, c.queued, c.leased, c.items) == (4, 0, 0, 4)
    assert [i.get("id", i.get("listing")) for i in queue.items("s")] == ["a", "2", "3", "4"]


def test_priority_first_then_oldest_first(queue: LeasedQueue) -> None:
    for n, priority in [(1, 0), (2, 5), (3, 0), (4, 5), (5, -1)]:
        queue.push("s", req(n), priority)
    order = []
    while (lease := queue.lease("w1", 30)) is not None:
        order.append(lease.request["meta"]["id"])
        queue.ack(lease.lease_id)
    assert order == ["2", "4", "1", "3", "5"]


def test_sweeps_take_turns(queue: LeasedQueue) -> None:
    for n in range(3):
        queue.push("big", req(f"b{n}"))
    queue.push("small", req("s0"))
    sweeps = []
    while (lease := queue.lease("w1", 30)) is not None:
        sweeps.append(lease.sweep_id)
        queue.ack(lease.lease_id)
    assert sweeps.count("small") == 1 and sweeps.index("small") <= 1
    assert queue.lease("w1", 30, sweep_id="big") is None
    queue.push("big", req("b9"))
    queue.push("small", req("s9"))
    only = queue.lease("w1", 30, sweep_id="small")
    assert only is not None and only.request["meta"]["id"] == "s9"


def test_a_lease_that_runs_out_is_redelivered_and_its_late_ack_refused(
        queue: LeasedQueue) -> None:
    queue.push("s", req(1))
    first = queue.lease("w1", 0.05)
    assert first is not None and first.failed_before == 0
    assert expire(queue) == (1, 0)
    second = queue.lease("w2", 30)
    assert second is not None and second.failed_before == 1
    assert second.request == first.request
    # the first worker comes back late: its results are refused, nothing counted twice
    assert queue.ack(first.lease_id, [QueuedRequest(req(9))], items=[{"id": "1"}]) is None
    assert queue.ack(second.lease_id, items=[{"id": "1"}]) == 0
    c = queue.counts("s")
    assert (c.acked, c.redelivered, c.spawned, c.items, c.outstanding) == (1, 1, 0, 1, 0)
    assert queue.ack(second.lease_id) is None  # acked once only


def test_a_request_that_keeps_running_out_is_dead_lettered_and_counted(
        queue: LeasedQueue) -> None:  # max_redeliveries=2
    queue.push("s", req("doomed"))
    queue.push("s", req("fine"), priority=-1)
    for expected in [(1, 0), (1, 0), (0, 1)]:
        lease = queue.lease("w1", 0.05, reap=False)
        assert lease is not None and lease.request["meta"]["id"] == "doomed"
        assert expire(queue) == expected
    c = queue.counts("s")
    invariant(c)
    assert (c.dead, c.redelivered, c.outstanding) == (1, 2, 1)
    assert [r["meta"]["id"] for r in queue.dead_letters("s").values()] == ["doomed"]
    lease = queue.lease("w1", 30)
    assert lease is not None and lease.request["meta"]["id"] == "fine"
    queue.ack(lease.lease_id)
    assert queue.counts("s").done and queue.lease("w1", 30) is None


def test_nack_counts_as_a_failure_release_does_not(queue: LeasedQueue) -> None:
    queue.push("s", req(1))
    for _ in range(5):
        lease = queue.lease("w1", 30)
        assert lease is not None and lease.failed_before == 0
        assert queue.release(lease.lease_id) is True
    assert queue.release(lease.lease_id) is False
    assert queue.counts("s").released == 5
    for failed_before in range(3):
        lease = queue.lease("w1", 30)
        assert lease is not None and lease.failed_before == failed_before
        assert queue.nack(lease.lease_id) is True
    c = queue.counts("s")
    assert (c.dead, c.redelivered, c.outstanding) == (1, 2, 0)


def test_a_worker_shutting_down_hands_back_all_it_holds(queue: LeasedQueue) -> None:
    for n in range(4):
        queue.push("s", req(n))
    held = [queue.lease("w1", 30) for _ in range(3)]
    other = queue.lease("w2", 30)
    assert queue.release_worker("w1") == 3
    assert queue.release_worker("w1") == 0
    c = queue.counts("s")
    assert (c.queued, c.leased, c.released, c.outstanding) == (3, 1, 3, 4)
    assert all(h is not None and queue.ack(h.lease_id) is None for h in held)
    assert other is not None and queue.ack(other.lease_id) == 0


def test_renew_keeps_a_lease(queue: LeasedQueue) -> None:
    queue.push("s", req(1))
    lease = queue.lease("w1", 0.05)
    assert lease is not None
    assert queue.renew(lease.lease_id, 60) is True
    time.sleep(0.1)
    assert queue.reap() == (0, 0)
    assert queue.ack(lease.lease_id) == 0
    assert queue.renew(lease.lease_id, 60) is False


def test_clear_removes_a_stuck_sweep(queue: LeasedQueue) -> None:
    for n in range(3):
        queue.push("stuck", req(n), fingerprint=str(n))
    queue.push("other", req("o"))
    lease = queue.lease("w1", 30, sweep_id="stuck")
    assert lease is not None
    assert queue.sweeps() == ["other", "stuck"]
    assert queue.clear("stuck") == 3
    assert queue.ack(lease.lease_id, [QueuedRequest(req(7))]) is None
    assert queue.counts("stuck") == SweepCounts(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    assert queue.sweeps() == ["other"]
    left = {k.decode() for k in queue.client.keys(f"{queue.prefix}*")}
    assert not any(":stuck:" in k for k in left)
    assert not queue.client.exists(f"{queue.prefix}worker:w1:leases")
    # the sweep id can be used again from scratch
    assert queue.push("stuck", req(0), fingerprint="0") is True


def test_bad_ids_are_refused(queue: LeasedQueue) -> None:
    with pytest.raises(ValueError, match="sweep id"):
        queue.push("a:b", req(1))
    with pytest.raises(ValueError, match="worker id"):
        queue.lease("", 30)
    with pytest.raises(ValueError, match="lease_seconds"):
        queue.lease("w1", 0)


# --- Redis down -------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_redis_unreachable_is_one_line_exit_2() -> None:
    url = f"redis://127.0.0.1:{_free_port()}/0"
    with pytest.raises(RedisUnavailable) as caught:
        connect(url, timeout=2)
    message = str(caught.value)
    assert message.startswith(f"Redis at {url} is unavailable (")
    assert message.endswith("start redis-server or check --redis")
    assert "\n" not in message and caught.value.exit_code == 2
    with pytest.raises(RedisUnavailable, match="scheme"):
        connect("http://127.0.0.1:6379")
    with pytest.raises(RedisUnavailable, match=r"redis://:\*\*\*@127\.0\.0\.1"):
        connect(f"redis://:secret@127.0.0.1:{_free_port()}/0", timeout=2)


def test_redis_going_away_mid_sweep_is_the_same_error(tmp_path: object) -> None:
    port = _free_port()
    binary = shutil.which("redis-server")
    assert binary is not None
    server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(tmp_path)],
                              stdout=subprocess.DEVNULL)
    try:
        while True:
            try:
                client = connect(f"redis://127.0.0.1:{port}/0", timeout=2)
                if client.info("server")["process_id"] == server.pid:
                    break
            except RedisUnavailable:
                assert server.poll() is None, "redis-server exited"
                time.sleep(0.05)
        queue = LeasedQueue(client)
        queue.push("s", req(1))
    finally:
        server.kill()
        server.wait()
    with pytest.raises(RedisUnavailable, match=f"127.0.0.1:{port}"):
        queue.lease("w1", 30)


# --- many processes, SIGKILL mid-request -------------------------------------------------

SEEDS = 300


def _worker(url: str, prefix: str, worker_id: str, hang: bool) -> None:
    """Lease, "download", ack with two children per seed and one item per request; with
    ``hang``, lease one request and never finish it (until SIGKILL)."""
    queue = LeasedQueue(connect(url), prefix=prefix, max_redeliveries=1000)
    rnd = random.Random(worker_id)
    while True:
        lease = queue.lease(worker_id, 0.5, sweep_id="big")
        if lease is None:
            if queue.outstanding("big") == 0:
                return
            time.sleep(0.02)
            continue
        if hang:
            time.sleep(3600)
        rid = lease.request["meta"]["id"]
        time.sleep(rnd.uniform(0, 0.006))
        children = []
        if rid.startswith("s-"):
            # seeds 2m and 2m+1 spawn the same two children: half are duplicates
            m = int(rid[2:]) // 2
            children = [QueuedRequest(req(f"c-{m}-{k}"), 1, f"c-{m}-{k}") for k in (0, 1)]
        queue.ack(lease.lease_id, children, items=[{"id": rid}])


def test_workers_killed_mid_request_lose_nothing_and_duplicate_nothing(
        queue: LeasedQueue, redis_url: str) -> None:
    queue.push_many("big", [QueuedRequest(req(f"s-{n}"), 0, f"s-{n}") for n in range(SEEDS)])
    expected = {f"s-{n}" for n in range(SEEDS)} | {
        f"c-{m}-{k}" for m in range(SEEDS // 2) for k in (0, 1)}
    ctx = multiprocessing.get_context("fork")
    rnd = random.Random(15)
    serial = 0

    def start(hang: bool = False) -> tuple[str, multiprocessing.process.BaseProcess]:
        nonlocal serial
        serial += 1
        name = f"w{serial}"
        p = ctx.Process(target=_worker, args=(redis_url, queue.prefix, name, hang))
        p.start()
        return name, p

    _, hung = start(hang=True)
    while not queue.client.scard(f"{queue.prefix}worker:w1:leases"):
        time.sleep(0.01)
    os.kill(hung.pid, signal.SIGKILL)  # certainly mid-request
    hung.join()
    workers = dict(start() for _ in range(4))
    # kill at points of progress, not of time: a lessee each 40 acks, 12 in all
    kill_at = list(range(40, 12 * 40 + 1, 40))
    kills = 0
    while any(p.is_alive() for p in workers.values()):
        c = queue.counts("big")
        invariant(c)
        # zero outstanding exactly when every request has been acked, never before
        assert (c.outstanding == 0) == (c.acked == len(expected))
        if c.outstanding == 0:
            assert c.items == len(expected) and c.queued == 0 and c.leased == 0
        if kill_at and c.acked >= kill_at[0]:
            kill_at.pop(0)
            lessees = [w for w, p in workers.items() if p.is_alive() and
                       queue.client.scard(f"{queue.prefix}worker:{w}:leases")]
            if lessees:
                victim = workers[rnd.choice(lessees)]
                os.kill(victim.pid, signal.SIGKILL)  # kill -9, wherever it is
                victim.join()
                kills += 1
                name, p = start()
                workers[name] = p
        time.sleep(0.005)
    for p in workers.values():
        p.join()
        assert p.exitcode in (0, -signal.SIGKILL)
    c = queue.counts("big")
    ids = Counter(item["id"] for item in queue.items("big"))
    assert set(ids) == expected  # none lost
    assert max(ids.values()) == 1  # none twice
    assert (c.seeded, c.spawned, c.duplicates) == (SEEDS, SEEDS, SEEDS)
    assert (c.acked, c.items, c.dead, c.outstanding, c.queued, c.leased) == (
        len(expected), len(expected), 0, 0, 0, 0)
    assert c.redelivered >= 1  # at least the hung worker's request came back
    assert kills >= 1
