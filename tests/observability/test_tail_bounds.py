"""The live tail's buffers are bounded in bytes: per subscriber, per namespace and per server
(each record counted once however many buffers share it); what does not fit is dropped and
counted as before, so delivered + dropped is what was sent; over HTTP, a consumer that does
not read holds no more than its bound of records with large logs."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import httpx

from isolane.observability.tail import BUFFER_BYTES, MIB, SharedView, TailBudget, TailSubscription
from tests.conftest import ADMIN_TOKEN, deploy
from tests.observability.test_tail import metric_values


def shared(n: int, kib: int, namespace: str = "ns") -> SharedView:
    """A record of a little over `kib` KiB of JSON."""
    view = {"id": f"{n:032x}", "namespace": namespace, "outcome": "ok", "logs": [{"level": "log", "message": "x" * (kib * 1024)}]}
    return SharedView(view, started_at=n)


def drain(subscription: TailSubscription) -> tuple[int, int]:
    """Read everything the subscription holds: (records delivered, total dropped)."""

    async def read() -> tuple[int, int]:
        delivered, dropped = 0, 0
        while (event := await subscription.next(timeout=0)) is not None:
            if event.kind == "invocation":
                delivered += 1
            else:
                dropped = event.data["total_dropped"]
        return delivered, dropped

    return asyncio.run(read())


def test_a_subscriber_holds_at_most_its_bytes_and_counts_the_rest() -> None:
    budget = TailBudget()
    subscription = TailSubscription("ns", "s", None, 1.0, budget=budget)
    for n in range(40):  # 40 MiB offered, 8 MiB kept
        subscription.offer(shared(n, 1024))
    assert subscription.bytes <= BUFFER_BYTES and budget.held == subscription.bytes
    assert subscription.bytes > BUFFER_BYTES - 2 * MIB  # it did fill up
    delivered, dropped = drain(subscription)
    assert delivered + dropped == 40 and delivered == 7  # 7 records of just over 1 MiB
    assert budget.held == 0 and subscription.bytes == 0


def test_records_shared_by_several_buffers_count_once_and_go_when_the_last_lets_go() -> None:
    budget = TailBudget()
    first, second = (TailSubscription("ns", "s", None, 1.0, budget=budget) for _ in range(2))
    record = shared(1, 100)
    for subscription in (first, second):
        subscription.offer(record)
    assert budget.held == record.size and first.bytes == second.bytes == record.size
    assert drain(first) == (1, 0)
    assert budget.held == record.size  # the second still holds it
    second.close()  # a closed subscription lets go of what it held, unsent
    assert budget.held == 0 and drain(second) == (0, 0)


def test_the_namespace_and_server_bounds_hold_across_subscribers() -> None:
    budget = TailBudget(server_bytes=6 * MIB, namespace_bytes=4 * MIB)
    greedy = [TailSubscription("greedy", f"s{i}", None, 1.0, budget=budget) for i in range(3)]
    other = [TailSubscription(f"other{i}", "s", None, 1.0, budget=budget) for i in range(2)]
    n = 0
    for _ in range(4):
        for subscription in greedy + other:
            n += 1
            subscription.offer(shared(n, 1024, subscription.namespace))
    held = {ns: sum(s.bytes for s in greedy + other if s.namespace == ns) for ns in ("greedy", "other0", "other1")}
    assert held["greedy"] <= 4 * MIB  # one namespace's tails: at most its share
    assert budget.held == sum(held.values()) <= 6 * MIB  # all of them: at most the server's
    assert held["other0"] > 0 and held["other1"] > 0  # the greedy namespace did not take it all
    assert sum(sum(drain(s)) for s in greedy + other) == n  # delivered + dropped: every record
    assert budget.held == 0


def test_the_dropped_and_buffered_bytes_of_a_slow_http_consumer(server, admin) -> None:
    """A consumer that does not read, of records with 256 KiB of logs: the server holds at
    most BUFFER_BYTES for it (the rest waits in the socket or is dropped), and once it reads,
    delivered + dropped is what was sent."""
    ns, name, count = "tail-bounds", "big-logs", 120  # 30 MiB of records
    admin.put(f"/v1/namespaces/{ns}")
    deploy(admin, name, BIG_LOGGER, ns=ns)
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)  # the socket holds little
    sock.sendall(f"GET /v1/namespaces/{ns}/scripts/{name}/tail HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\r\n".encode())
    time.sleep(0.3)  # subscribed
    with httpx.Client(timeout=30) as client:
        for _ in range(count):
            assert client.get(f"{server.url}/v1/namespaces/{ns}/scripts/{name}/invoke/").status_code == 200
    held = metric_values(server)["isolane_tail_buffered_bytes"]
    assert 4 * MIB < held <= BUFFER_BYTES, held

    sock.settimeout(3)
    chunks = []
    while True:
        try:
            chunk = sock.recv(1 << 20)
        except TimeoutError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    sock.close()
    received = b"".join(chunks)
    delivered = received.count(b"event: invocation\n")
    notices = [json.loads(line[6:]) for line in received.split(b"\n") if line.startswith(b'data: {"dropped"')]
    assert notices and delivered + notices[-1]["total_dropped"] == count, (delivered, notices[-1:])
    deadline = time.monotonic() + 10
    while metric_values(server)["isolane_tail_buffered_bytes"] != 0:  # let go with the stream
        assert time.monotonic() < deadline
        time.sleep(0.1)


BIG_LOGGER = """
export default {
  fetch() {
    const line = "y".repeat(16000);  // a message's most (16 Ki characters)
    for (let i = 0; i < 16; i++) console.log(i, line);  // 256 Ki characters: a record's most
    return new Response("logged");
  },
};
"""
