"""Every resource an invocation spends is bounded on the host: host-call CPU (charged while
it runs, shared fairly), memory outside the V8 heap (ArrayBuffers, wasm; per isolate, idle
ones included), and subrequests (fetch, KV and other bindings together)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.abuse.conftest import Tenant, Victim, make_tenant, metric
from tests.conftest import multipart_upload

PBKDF2_FLOOD = """
export default {
  async fetch() {
    const key = await crypto.subtle.importKey("raw", new Uint8Array(16), "PBKDF2", false, ["deriveBits"]);
    const params = { name: "PBKDF2", hash: "SHA-256", salt: new Uint8Array(16), iterations: 100000 };
    await Promise.all(Array.from({ length: 200 }, () => crypto.subtle.deriveBits(params, key, 256)));
    return new Response("derived");
  },
};
"""
DIGEST_VICTIM = """
export default {
  async fetch() {
    await crypto.subtle.digest("SHA-256", new Uint8Array(1024));
    return new Response("victim ok");
  },
};
"""


def test_a_host_call_flood_is_charged_as_it_runs_and_shares_the_host_fairly(abuse_server, tenant: Tenant) -> None:
    assert tenant.deploy("pbkdf2", PBKDF2_FLOOD).status_code in (200, 201)
    digest = Victim(abuse_server, script="digest", code=DIGEST_VICTIM).deploy()
    with digest.during() as measured, ThreadPoolExecutor(4) as pool:
        started = time.monotonic()
        answers = list(pool.map(lambda _: tenant.invoke("pbkdf2"), range(8)))
        elapsed = time.monotonic() - started
    measured.assert_unharmed(max_latency_ms=1500)
    for answer in answers:
        assert answer.status_code == 503 and answer.json()["error"]["outcome"] == "exceededCpu", answer.text
    assert elapsed < 10, elapsed  # 1,600 derivations would take far longer: the rest never ran
    with tenant.client() as client:
        record = client.get(f"/v1/invocations/{answers[0].headers['x-isolane-invocation']}").json()
    assert record["cpu_ms"] < 1000, record  # charged while running: ended near its 50 ms


OFF_HEAP_BOMB = """
export default {
  fetch(request) {
    const keep = [];
    for (let i = 0; i < 64; i++) keep.push(new Uint8Array(16 * 1024 * 1024));
    return new Response(String(keep.length));
  },
};
"""
# Each invocation parks just under the 128 MB limit outside the heap, in its warm isolate.
PARKER = """
export default {
  fetch() {
    globalThis.parked = new Uint8Array(120 * 1024 * 1024).fill(7);
    return new Response("parked");
  },
};
"""
HONEST_40MB = """
export default {
  fetch() {
    const buffer = new Uint8Array(40 * 1024 * 1024).fill(1);
    return new Response(buffer[123] === 1 ? "victim ok" : "wrong");
  },
};
"""


WASM_BOMB = """
export default {
  fetch() {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
    for (let i = 0; i < 64; i++) memory.grow(256);  // 16 MiB at a time
    return new Response(String(memory.buffer.byteLength));
  },
};
"""


@pytest.mark.parametrize("bomb", ["arraybuffers", "wasm"])
def test_memory_outside_the_heap_is_limited_per_isolate(abuse_server, tenant: Tenant, victim: Victim, bomb: str) -> None:
    assert tenant.deploy(f"offheap-{bomb}", OFF_HEAP_BOMB if bomb == "arraybuffers" else WASM_BOMB).status_code in (200, 201)
    with victim.during() as measured:
        answers = [tenant.invoke(f"offheap-{bomb}") for _ in range(3)]
    measured.assert_unharmed()
    for answer in answers:
        assert answer.status_code == 503 and answer.json()["error"]["outcome"] == "exceededMemory", answer.text


def test_parked_memory_of_idle_isolates_is_what_gets_evicted(fresh_server) -> None:
    server = fresh_server("--executor-memory-mb", "1024", "--executors", "1", "--cpu-ms", "500")
    mallory = make_tenant(server, "parker")
    assert mallory.deploy("park", PARKER).status_code in (200, 201)
    honest = Victim(server, script="honest", code=HONEST_40MB, interval=0.05).deploy()

    def park(_: int) -> int:
        return mallory.invoke("park").status_code

    with honest.during() as measured, ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(park, range(24)))  # ~24 warm isolates x 120 MB: 2.9 GB parked
        time.sleep(1)
    measured.assert_unharmed(max_latency_ms=3000)
    assert statuses.count(200) >= 12, statuses
    with server.admin() as admin:
        [executor] = admin.get("/v1/system/executors").json()["items"]
    assert executor["alive"] and executor["rss_bytes"] < 1.5 * 1024**3
    assert metric(server, "isolane_executor_restarts_total") == 0


def test_subrequests_count_every_binding_and_run_a_few_at_a_time(fresh_server) -> None:
    server = fresh_server("--cpu-ms", "5000")
    tenant = make_tenant(server, "kv-flooder")
    victim = Victim(server).deploy()
    with tenant.client() as client:
        created = client.post("/v1/kv/namespaces", params={"namespace": tenant.namespace}, json={"title": "flood"})
        assert created.status_code == 201, created.text
        kv_id = created.json()["id"]
        code = """
export default {
  async fetch(request, env) {
    const results = await Promise.allSettled(Array.from({ length: 5000 }, (_, i) => env.KV.get("k" + i)));
    const refused = results.filter((r) => r.status === "rejected");
    return Response.json({ ok: results.length - refused.length, refused: refused.length, reason: refused[0]?.reason?.message });
  },
};
"""
        metadata = {"main_module": "main.js", "bindings": [{"type": "kv_namespace", "name": "KV", "namespace_id": kv_id}], "limits": {"cpu_ms": 5000}}
        uploaded = client.put(f"/v1/namespaces/{tenant.namespace}/scripts/kv-flood", files=multipart_upload({"main.js": (code, "application/javascript+module")}, metadata))
        assert uploaded.status_code in (200, 201), uploaded.text
    with victim.during() as measured:
        answer = tenant.invoke("kv-flood", timeout=60)
    measured.assert_unharmed(max_latency_ms=1500)
    body = answer.json()
    assert answer.status_code == 200 and body["ok"] == 1000 and body["refused"] == 4000, body
    assert "too many subrequests (the limit is 1000 per invocation)" in body["reason"]
    with tenant.client() as client:
        record = client.get(f"/v1/invocations/{answer.headers['x-isolane-invocation']}").json()
    assert record["subrequests"] == 1000
