"""Live tail over Server-Sent Events: records as they complete, filters, sampling, a slow
consumer that drops (and is told) without slowing invocations, records of another server
sharing the store, bad input, and a server that stops with tails open."""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, deploy, invoke

NS = "tail-a"

WORKER = """
export default {
  async fetch(request) {
    const url = new URL(request.url);
    const big = Number(url.searchParams.get("big") || 0);
    console.log("path", url.pathname, big ? "x".repeat(big) : "");
    if (url.pathname === "/throw") throw new RangeError("tail me");
    return new Response("ok");
  },
};
"""


class Tail:
    """Reads a tail stream on a thread; `events` holds (event, data) as they arrive."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.events: queue.Queue[tuple[str, dict]] = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        event, data = None, []
        try:
            for line in self.response.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data.append(line[6:])
                elif line == "" and event is not None:
                    self.events.put((event, json.loads("\n".join(data))))
                    event, data = None, []
        except httpx.HTTPError:
            pass
        self.events.put(("closed", {}))

    def next(self, timeout: float = 10.0) -> tuple[str, dict]:
        return self.events.get(timeout=timeout)

    def invocations(self, count: int, timeout: float = 10.0) -> list[dict]:
        found = []
        deadline = time.monotonic() + timeout
        while len(found) < count:
            event, data = self.next(max(0.01, deadline - time.monotonic()))
            if event == "invocation":
                found.append(data)
        return found


@contextmanager
def tail(url: str, name: str, ns: str = NS, token: str = ADMIN_TOKEN, **params: str) -> Iterator[Tail]:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=None) as client:
        with client.stream("GET", f"/v1/namespaces/{ns}/scripts/{name}/tail", params=params) as response:
            assert response.status_code == 200, response.read()
            assert response.headers["content-type"].startswith("text/event-stream")
            reader = Tail(response)
            event, data = reader.next()
            assert event == "connected" and data["namespace"] == ns and data["script"] == name, (event, data)
            yield reader


@pytest.fixture(scope="module")
def tailed(server):
    with server.admin() as admin:
        admin.put(f"/v1/namespaces/{NS}")
        deploy(admin, "tailed", WORKER, ns=NS)
    return "tailed"


def test_records_arrive_as_they_complete(server, admin, tailed):
    with tail(server.url, tailed) as reader:
        ok = invoke(server, NS, tailed, "/hello")
        failed = invoke(server, NS, tailed, "/throw")
        first, second = reader.invocations(2)
    assert [first["id"], second["id"]] == [ok.headers["x-isolane-invocation"], failed.headers["x-isolane-invocation"]]
    assert first["outcome"] == "ok" and first["status"] == 200 and first["trigger"] == "fetch"
    assert first["logs"][0]["message"].startswith("path /hello")
    assert second["outcome"] == "exception" and second["error"]["name"] == "RangeError"
    # The same object the records API shows (once it is stored).
    deadline = time.monotonic() + 5
    while (stored := admin.get(f"/v1/invocations/{second['id']}")).status_code == 404 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stored.json() == second


def test_outcome_filter_and_other_scripts(server, admin, tailed):
    deploy(admin, "neighbour", WORKER, ns=NS)
    with tail(server.url, tailed, outcome="exception") as reader:
        invoke(server, NS, "neighbour", "/throw")  # another script: not this tail's
        invoke(server, NS, tailed, "/fine")  # filtered out
        failed = invoke(server, NS, tailed, "/throw")
        (only,) = reader.invocations(1)
        assert only["id"] == failed.headers["x-isolane-invocation"]
        with pytest.raises(queue.Empty):
            reader.next(timeout=0.5)


def test_sampling_sends_a_fraction(server, tailed):
    with tail(server.url, tailed, sample="0.25") as reader:
        with httpx.Client(timeout=30) as client:
            for _ in range(200):
                client.get(f"{server.url}/v1/namespaces/{NS}/scripts/{tailed}/invoke/s")
        time.sleep(0.5)
        received = 0
        while True:
            try:
                event, _ = reader.next(timeout=0.5)
            except queue.Empty:
                break
            received += event == "invocation"
    assert 20 <= received <= 90, received  # 50 expected; far outside is a broken sampler


def test_slow_consumer_drops_and_is_told(server, tailed):
    """A consumer that does not read: its records are dropped and counted, invocations keep
    their pace, and once it reads it is told how many it missed."""
    count = 800  # 13 MB of records: more than the server's buffer and the sockets' together
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(
        f"GET /v1/namespaces/{NS}/scripts/{tailed}/tail HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {ADMIN_TOKEN}\r\n\r\n".encode()
    )
    time.sleep(0.3)  # subscribed
    started = time.monotonic()
    with httpx.Client(timeout=30) as client:
        for _ in range(count):
            assert client.get(f"{server.url}/v1/namespaces/{NS}/scripts/{tailed}/invoke/slow?big=16000").status_code == 200
    elapsed = time.monotonic() - started
    # Now read everything that was kept, then the drop notice.
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
    notices = [json.loads(line[6:]) for line in received.split(b"\n") if line.startswith(b"data: {\"dropped\"")]
    assert notices, f"no drop notice after {delivered} records"
    assert delivered + notices[-1]["total_dropped"] == count
    assert delivered < count
    assert elapsed < count * 0.05, elapsed  # nobody waited on the tail (about 2 ms each)
    # The server noticed the consumer left: no subscriber is left behind, and /metrics
    # counts what was dropped.
    deadline = time.monotonic() + 10
    while True:
        metrics = metric_values(server)
        if metrics["isolane_tail_subscribers"] == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert metrics["isolane_tail_subscribers"] == 0
    assert metrics["isolane_tail_dropped_total"] >= notices[-1]["total_dropped"]


def metric_values(server) -> dict[str, float]:
    text = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).text
    return {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line.startswith(("isolane_tail_", "isolane_records_dropped"))
    }


def test_records_of_another_server_sharing_the_store(server, make_server, tmp_path):
    data = tmp_path / "shared"
    first = make_server(data_dir=data)
    second = make_server(data_dir=data)
    with first.admin() as admin:
        admin.put(f"/v1/namespaces/{NS}")
        deploy(admin, "shared", WORKER, ns=NS)
    with tail(first.url, "shared") as reader:
        there = invoke(second, NS, "shared", "/on-the-second")
        here = invoke(first, NS, "shared", "/on-the-first")
        got = reader.invocations(2, timeout=15)
        assert {record["id"] for record in got} == {
            there.headers["x-isolane-invocation"],
            here.headers["x-isolane-invocation"],
        }
        with pytest.raises(queue.Empty):  # each once
            while True:
                event, _ = reader.next(timeout=2)
                assert event != "invocation"


def test_bad_requests_get_json_errors(server, admin, tailed):
    base = f"/v1/namespaces/{NS}/scripts"
    for params, code in (
        ({"outcome": "exploded"}, "invalid_outcome"),
        ({"sample": "0"}, "invalid_sample"),
        ({"sample": "1.5"}, "invalid_sample"),
        ({"sample": "nan"}, "invalid_sample"),
        ({"sample": "lots"}, "invalid_sample"),
    ):
        response = admin.get(f"{base}/{tailed}/tail", params=params)
        assert response.status_code == 400 and response.json()["error"]["code"] == code, (params, response.text)
    missing = admin.get(f"{base}/no-such-script/tail")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "script_not_found"


def test_stopping_server_ends_open_tails(make_server):
    instance = make_server()
    with instance.admin() as admin:
        admin.put(f"/v1/namespaces/{NS}")
        deploy(admin, "closing", WORKER, ns=NS)
    with tail(instance.url, "closing") as reader:
        started = time.monotonic()
        instance.stop()
        assert time.monotonic() - started < 8
        while reader.next()[0] != "closed":
            pass


def test_a_revoked_token_ends_its_tail(server, admin, tailed):
    created = admin.post("/v1/tokens", json={"name": "tailer", "scope": f"namespace:{NS}", "read_only": True}).json()
    with tail(server.url, tailed, token=created["token"]) as reader:
        first = invoke(server, NS, tailed, "/before")
        (seen,) = reader.invocations(1)
        assert seen["id"] == first.headers["x-isolane-invocation"]
        assert admin.delete(f"/v1/tokens/{created['id']}").status_code == 200
        invoke(server, NS, tailed, "/after")  # not for a revoked token's eyes
        event, _ = reader.next()
        assert event == "closed", event


def test_open_tails_are_limited_per_script(server, tailed):
    url = f"{server.url}/v1/namespaces/{NS}/scripts/{tailed}/tail"
    with ExitStack() as stack:
        for _ in range(10):  # open streams, read by nobody (a reader thread would keep its socket open)
            client = stack.enter_context(httpx.Client(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=None))
            assert stack.enter_context(client.stream("GET", url)).status_code == 200
        refused = httpx.get(
            f"{server.url}/v1/namespaces/{NS}/scripts/{tailed}/tail", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["code"] == "too_many_tails" and refused.headers["retry-after"] == "5"
    # Closed streams make room again, at once: the server notices the clients leaving.
    deadline = time.monotonic() + 3
    while True:
        with httpx.stream(
            "GET", f"{server.url}/v1/namespaces/{NS}/scripts/{tailed}/tail", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ) as response:
            if response.status_code == 200 or time.monotonic() > deadline:
                break
        time.sleep(0.2)
    assert response.status_code == 200
