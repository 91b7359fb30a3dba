"""`/metrics` counts what `Runner.run` saw; `/readyz` answers when the database and an executor do."""

from __future__ import annotations

import re

import httpx

import secrets

from tests.conftest import deploy, execute, invoke, upload

NS = "metrics-a"

WORKER = """
export default {
  async fetch(request) {
    if (new URL(request.url).pathname === "/throw") throw new Error("on purpose");
    return new Response("ok");
  },
};
"""


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a text exposition (0 when absent)."""
    for line in text.splitlines():
        match = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(4))
    return 0.0


def test_metrics_count_invocations(server, admin) -> None:
    assert admin.put(f"/v1/namespaces/{NS}").status_code in (200, 201)
    deploy(admin, "counted", WORKER, ns=NS)
    before = admin.get("/metrics")
    assert before.status_code == 200 and before.headers["content-type"].startswith("text/plain")
    cold_before = sample(before.text, "isolane_cold_starts_total")
    for _ in range(3):
        assert invoke(server, NS, "counted", "/").status_code == 200
    assert invoke(server, NS, "counted", "/throw").status_code == 500

    text = admin.get("/metrics").text
    assert sample(text, "isolane_invocations_total", namespace=NS, trigger="fetch", outcome="ok") == 3
    assert sample(text, "isolane_invocations_total", namespace=NS, trigger="fetch", outcome="exception") == 1
    assert sample(text, "isolane_invocation_duration_seconds_count", trigger="fetch", outcome="ok") >= 3
    assert sample(text, "isolane_invocation_cpu_seconds_count", trigger="fetch", outcome="exception") >= 1
    # Deploying probes (and so warms) the script; a fresh seed script loads cold.
    script_id = upload(admin, f"'cold {secrets.token_hex(8)}'")
    assert execute(admin, script_id)["outcome"] == "ok"
    text = admin.get("/metrics").text
    assert sample(text, "isolane_cold_starts_total") >= cold_before + 1
    assert sample(text, "isolane_invocations_total", namespace="default", trigger="execute", outcome="ok") >= 1
    assert sample(text, "isolane_inflight_invocations") == 0
    assert "isolane_subrequests_total" in text
    assert "isolane_executor_restarts_total" in text
    assert sample(text, "isolane_executors_alive") >= 1
    assert "isolane_isolates_idle{" in text and "isolane_isolate_evictions_total{" in text


def test_metrics_need_an_admin_token(server) -> None:
    assert httpx.get(f"{server.url}/metrics").status_code == 401


def test_readyz(server) -> None:
    response = httpx.get(f"{server.url}/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ready" and response.json()["executors_alive"] >= 1
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
