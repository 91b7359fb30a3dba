"""A second process holds the SQLite write lock (issue 17, 1): writes wait their turn and
then answer `503 database_busy` with Retry-After (or succeed once it is released), never a
500; meanwhile reads and warm
invocations carry on, because waiting writers no longer hold every pooled connection; and
the connection a client used stays open."""

from __future__ import annotations

import http.client
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import ADMIN_TOKEN, deploy, invoke

HOLD = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
connection.execute("BEGIN IMMEDIATE")  # the write lock, as another server's long write would
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
connection.execute("ROLLBACK")
"""


def test_writes_answer_503_with_retry_after_while_reads_and_invocations_carry_on(make_server) -> None:
    server = make_server("--executors", "1")
    with server.admin() as admin:
        deploy(admin, "hello", 'export default { fetch() { return new Response("hello") } };')
        assert invoke(server, "default", "hello").text == "hello"
        holder = subprocess.Popen([sys.executable, "-c", HOLD, str(server.data_dir / "isolane.db"), "14"], stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "locked"
            started = time.monotonic()

            def write(i: int) -> httpx.Response:
                with server.admin() as client:
                    return client.put(f"/v1/namespaces/busy-{i}")

            def write_then_read_on_one_connection() -> tuple[int, str | None, int]:
                """An error answer keeps a keep-alive connection open (issue 17, 6)."""
                connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
                headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
                connection.request("PUT", "/v1/namespaces/busy-raw", headers=headers)
                first = connection.getresponse()
                first.read()
                connection.request("GET", "/healthz")  # the same connection: it must still be open
                second = connection.getresponse()
                second.read()
                connection.close()
                return first.status, first.getheader("connection"), second.status

            with ThreadPoolExecutor(24) as pool:
                writes = [pool.submit(write, i) for i in range(20)]
                raw = pool.submit(write_then_read_on_one_connection)
                time.sleep(0.5)  # the writers are all waiting now
                slowest = 0.0
                while not all(w.done() for w in writes):
                    t = time.monotonic()
                    assert admin.get("/v1/namespaces").status_code == 200
                    assert invoke(server, "default", "hello").text == "hello"
                    slowest = max(slowest, time.monotonic() - t)
                    time.sleep(0.2)
                answers = [w.result() for w in writes]
                first_status, connection_header, second_status = raw.result()
            assert first_status in (503, 201) and connection_header != "close" and second_status == 200
            assert slowest < 1.0, f"a read or invocation waited {slowest:.1f} s behind the writers"
            # A writer waits at most its turn (10 s) and then SQLite's busy timeout (10 s).
            assert time.monotonic() - started < 22
            busy = [a for a in answers if a.status_code == 503]
            assert busy, "no writer gave up although the lock was held past the busy timeout"
            for answer in busy:
                assert answer.json()["error"]["code"] == "database_busy" and answer.headers["retry-after"] == "1", answer.text
            # The rest got their turn after the lock was released.
            assert all(a.status_code == 201 for a in answers if a.status_code != 503), [a.text for a in answers]
        finally:
            holder.wait(timeout=30)
        # The lock released: the same writes succeed, on the same client connection.
        assert admin.put("/v1/namespaces/busy-0").status_code == 201
        assert admin.get("/v1/namespaces/busy-0").status_code == 200
