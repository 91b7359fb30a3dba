"""An executor dying under an upload's probe (issue 17, 2) is not the script's fault: the
probe runs again once, and if that one is stopped too the upload answers `503
script_check_interrupted` with Retry-After, never `400 script_startup_exceeded_limits`."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx

SLOW_START = """
const started = Date.now();
while (Date.now() - started < 600) {}  // a global scope that takes a while, within its limits
export default { fetch() { return new Response("started") } };
"""


def executor_pids(client: httpx.Client) -> list[int]:
    return [item["pid"] for item in client.get("/v1/system/executors").json()["items"] if item.get("pid")]


def keep_killing(client: httpx.Client, stop: threading.Event, pause: float) -> None:
    while not stop.is_set():
        for pid in executor_pids(client):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        stop.wait(pause)


def upload(client: httpx.Client, name: str) -> httpx.Response:
    return client.put(f"/v1/namespaces/default/scripts/{name}", content=SLOW_START.encode(), headers={"content-type": "application/javascript+module"})


def test_one_executor_death_is_retried_and_a_second_answers_503(make_server) -> None:
    server = make_server("--executors", "1", "--cpu-ms", "5000")
    with server.admin() as client, server.admin() as killer:
        # One death during the probe: it runs again on the replacement, and the upload succeeds.
        timer = threading.Timer(0.3, lambda: [os.kill(pid, signal.SIGKILL) for pid in executor_pids(killer)])
        timer.start()
        once = upload(client, "slow-once")
        timer.join()
        assert once.status_code == 201, once.text

        # Executors dying all along: the upload ends 503 with Retry-After, nothing stored.
        stop = threading.Event()
        thread = threading.Thread(target=keep_killing, args=(killer, stop, 0.2))
        thread.start()
        try:
            refused = upload(client, "slow-always")
        finally:
            stop.set()
            thread.join()
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "script_check_interrupted" and refused.headers["retry-after"] == "1"
        assert client.get("/v1/namespaces/default/scripts/slow-always").status_code == 404

        # Retried once the executors are left alone, the same upload succeeds.
        deadline = time.monotonic() + 20
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert upload(client, "slow-always").status_code == 201
