"""Each limit ends only its own invocation, within a bounded time, while others are served.

The test server runs with --cpu-ms 50 --wall-ms 2000 --memory-mb 64 (conftest)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import execute, run_js, upload

RUNAWAYS = {
    "sync loop": ("while (true) {}", "exceededCpu"),
    "loop after await": ("(async () => { await null; while (true) {} })()", "exceededCpu"),
    "loop in a timer": ("new Promise(() => setTimeout(() => { while (true) {} }, 10))", "exceededCpu"),
    "loop in a microtask after the result": ("Promise.resolve().then(() => { for (;;) {} }); 'returned'", "exceededCpu"),
    "never-settling promise": ("new Promise(() => {})", "exceededWallTime"),
}


@pytest.mark.parametrize("name", list(RUNAWAYS))
def test_runaway_ends_with_its_outcome(admin: httpx.Client, name: str) -> None:
    code, outcome = RUNAWAYS[name]
    started = time.monotonic()
    body = run_js(admin, f"{code} // {name}")
    elapsed = time.monotonic() - started
    assert body["outcome"] == outcome, body
    assert body["result"] is None
    assert body["error"]["message"]
    assert elapsed < 10  # bounded: the limits are 50 ms CPU and 2 s wall clock
    if outcome == "exceededCpu":
        assert 50 <= body["cpu_ms"] < 1000


def test_microtask_runaway_after_result_then_fresh_isolate(admin: httpx.Client) -> None:
    # The completion value is ready before the loop starts; the loop still counts, and the
    # isolate it wedged is not reused.
    script = upload(admin, "Promise.resolve().then(() => { if (!globalThis.spun) { globalThis.spun = 1; for (;;) {} } }); 1")
    assert execute(admin, script)["outcome"] == "exceededCpu"
    assert execute(admin, script)["outcome"] == "exceededCpu"  # a fresh isolate: spun is unset again


def test_other_scripts_keep_being_served_during_runaways(admin: httpx.Client, server) -> None:
    healthy = upload(admin, "'still here'")
    runaways = [upload(admin, f"new Promise(() => {{}}) // hang {i}") for i in range(4)]
    with ThreadPoolExecutor(8) as pool:
        hanging = [pool.submit(execute, server.admin(), rid) for rid in runaways]
        time.sleep(0.3)
        for _ in range(10):
            started = time.monotonic()
            assert execute(admin, healthy)["result"] == "still here"
            assert time.monotonic() - started < 1.0
        assert all(f.result()["outcome"] == "exceededWallTime" for f in hanging)


def test_runaway_isolate_is_replaced(admin: httpx.Client) -> None:
    script = upload(admin, "globalThis.calls = (globalThis.calls || 0) + 1; if (calls === 1) { while (true) {} } calls")
    assert execute(admin, script)["outcome"] == "exceededCpu"
    # The runaway's isolate was closed: the next run starts from a fresh one.
    assert execute(admin, script)["outcome"] == "exceededCpu"


def test_twenty_timers_overlap(admin: httpx.Client, server) -> None:
    scripts = [upload(admin, f"new Promise(r => setTimeout(() => r({i}), 300))") for i in range(20)]
    with ThreadPoolExecutor(20) as pool:
        execute(admin, scripts[0])  # warm the connection path
        started = time.monotonic()
        results = list(pool.map(lambda sid: execute(server.admin(), sid), scripts))
        elapsed = time.monotonic() - started
    assert sorted(r["result"] for r in results) == list(range(20))
    # Serialized they would take 6 s; overlapping they take a little over 0.3 s (plus twenty
    # cold starts, slower on a busy machine).
    assert elapsed < 3.0, elapsed


def test_cpu_is_measured_not_wall(admin: httpx.Client) -> None:
    body = run_js(admin, "new Promise(r => setTimeout(() => r('slept'), 300)) // sleeper")
    assert body["outcome"] == "ok"
    assert body["wall_ms"] >= 290
    assert body["cpu_ms"] < 40
