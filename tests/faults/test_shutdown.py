"""An invocation still running when the server stops and its 10 s grace runs out (issue 17,
8) gets Isolane's JSON error (`503 shutting_down`, Retry-After), not uvicorn's plain-text
500. What finishes within the grace is answered normally (tests/server: SIGTERM under load)."""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import deploy

SLOW = "export default { async fetch() { await new Promise((r) => setTimeout(r, 20000)); return new Response('late') } };"


def test_an_invocation_cut_by_the_end_of_the_grace_gets_a_json_503(make_server) -> None:
    server = make_server("--executors", "1", "--wall-ms", "30000")
    with server.admin() as admin:
        deploy(admin, "slow", SLOW)
    url = f"{server.url}/v1/namespaces/default/scripts/slow/invoke"
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(httpx.get, url, timeout=60)
        time.sleep(1.0)  # running now
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        answer = pending.result(timeout=60)
    assert 9 < time.monotonic() - started < 20  # after the grace, not before
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"].startswith("application/json") and answer.headers["retry-after"] == "1"
    assert answer.json()["error"]["code"] == "shutting_down"
    server.process.wait(timeout=30)
