"""Executors that die or wedge are replaced; what was in flight ends, nothing stored is lost."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import execute, upload


def executor_pids(client: httpx.Client) -> list[int]:
    body = client.get("/v1/system/executors").json()
    return [item["pid"] for item in body["items"] if item.get("alive")]


def wait_for_executors(client: httpx.Client, count: int, exclude: set[int]) -> list[int]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        pids = executor_pids(client)
        if len(pids) == count and not set(pids) & exclude:
            return pids
        time.sleep(0.1)
    raise AssertionError("executors were not replaced")


def test_killed_executor_cancels_in_flight_and_is_replaced(make_server) -> None:
    server = make_server("--executors", "1", "--wall-ms", "5000")
    with server.admin() as client:
        slow = upload(client, "new Promise(r => setTimeout(() => r('late'), 2000))")
        quick = upload(client, "'quick'")
        [pid] = executor_pids(client)
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(execute, server.admin(), slow)
            time.sleep(0.5)
            os.kill(pid, signal.SIGKILL)
            body = pending.result(timeout=10)
        assert body["outcome"] == "canceled"
        assert body["error"]["message"]
        [new_pid] = wait_for_executors(client, 1, {pid})
        assert new_pid != pid
        assert execute(client, quick)["result"] == "quick"
        assert execute(client, slow)["result"] == "late"  # stored code survived
        assert client.get("/v1/system/executors").json()["restarts"] >= 1


def test_wedged_executor_is_killed_past_the_deadline(make_server) -> None:
    # An executor stopped while it runs an invocation answers nothing, as if its own
    # watchdog had failed: the supervisor kills it once the invocation is well past its
    # wall-clock limit.
    server = make_server("--executors", "1", "--wall-ms", "500")
    with server.admin() as client, ThreadPoolExecutor(1) as pool:
        script = upload(client, "new Promise((resolve) => setTimeout(() => resolve('answer'), 300))")
        assert execute(client, script)["result"] == "answer"
        [pid] = executor_pids(client)
        started = time.monotonic()
        pending = pool.submit(execute, server.admin(), script)
        time.sleep(0.15)  # it has read the invocation and waits on its timer
        os.kill(pid, signal.SIGSTOP)
        body = pending.result(timeout=30)
        assert body["outcome"] == "exceededWallTime"
        assert time.monotonic() - started < 10
        wait_for_executors(client, 1, {pid})
        assert execute(client, script)["result"] == "answer"


def test_an_invocation_a_wedged_executor_never_read_runs_on_its_replacement(make_server) -> None:
    # A cold invocation may wait for an isolate; its deadline starts when it starts. An
    # executor that stays silent meanwhile is wedged: killed within seconds. It never read
    # the invocation (still in its pipe), so the invocation runs on its replacement.
    server = make_server("--executors", "1", "--wall-ms", "500")
    with server.admin() as client:
        script = upload(client, "'answer'")
        [pid] = executor_pids(client)
        os.kill(pid, signal.SIGSTOP)
        started = time.monotonic()
        body = execute(client, script)
        assert body["outcome"] == "ok" and body["result"] == "answer", body
        assert time.monotonic() - started < 10
        assert pid not in executor_pids(client)
