"""Invocations that arrive just after an executor died (issue 17, 7) never ran there, so
they must not fail: they go to the replacement (or another executor) instead. Under a
steady load, an executor is SIGKILLed; only invocations that had arrived before the kill
may end `canceled`."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import datetime

import httpx

from tests.conftest import deploy

MARGIN_SECONDS = 0.005  # SIGKILL takes effect within this


def test_invocations_arriving_after_an_executor_died_do_not_fail(make_server) -> None:
    server = make_server("--executors", "1")
    url = f"{server.url}/v1/namespaces/default/scripts/hello/invoke"
    with server.admin() as admin:
        deploy(admin, "hello", 'export default { fetch() { return new Response("hello") } };')
        failed: list[str] = []
        stop = threading.Event()

        def load() -> None:
            with httpx.Client(timeout=30) as client:
                while not stop.is_set():
                    answer = client.get(url)
                    if answer.status_code != 200:
                        failed.append(answer.headers.get("x-isolane-invocation", answer.text))

        threads = [threading.Thread(target=load) for _ in range(8)]
        for thread in threads:
            thread.start()
        kills = []
        try:
            for _ in range(3):
                time.sleep(0.5)
                [executor] = admin.get("/v1/system/executors").json()["items"]
                kills.append(time.time())
                os.kill(executor["pid"], signal.SIGKILL)
            time.sleep(1)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        late = []
        for invocation in failed:
            record = admin.get(f"/v1/invocations/{invocation}")
            assert record.status_code == 200, (invocation, record.text)
            started = datetime.fromisoformat(record.json()["started_at"]).timestamp()
            # It may fail if it was running when an executor was killed: it started before
            # that kill (and not long before: these invocations take a millisecond).
            if not any(kill - 2 <= started <= kill + MARGIN_SECONDS for kill in kills):
                late.append((invocation, record.json()["outcome"], [round(started - kill, 3) for kill in kills]))
        assert not late, f"invocations that arrived after an executor died failed: {late}"
