"""What crosses from an isolate to the host is produced by the runtime's own captured
intrinsics and validated on the host: tampering ends at most the tampering invocation."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.abuse.conftest import Tenant, Victim

# Each replaces something the runtime used to hand its state to the host, then answers.
TAMPERING = {
    "JSON.stringify": "JSON.stringify = () => '{\"status\":\"abc\"}';",
    "JSON.stringify to a status of [1]": "JSON.stringify = () => '{\"status\":[1],\"headers\":[]}';",
    "JSON.stringify to a 101": "JSON.stringify = () => '{\"status\":101,\"headers\":[],\"body\":null}';",
    "Object.prototype.toJSON": "Object.prototype.toJSON = function () { return 'forged'; };",
    "Array.prototype.toJSON": "Array.prototype.toJSON = function () { return {}; };",
    "Array.prototype.push": "Array.prototype.push = function () { return 0; };",
    "Array iteration": "Array.prototype[Symbol.iterator] = function* () { yield 'forged'; };",
    "Map.prototype.set": "Map.prototype.set = function () { return this; };",
    "Promise.prototype.then": "Promise.prototype.then = function () { return this; };",
    "String.prototype.slice": "String.prototype.slice = function () { return String(this); };",
    "Reflect.apply": "Reflect.apply = () => { throw new Error('no'); };",
    "Uint8Array.prototype.toBase64": "Uint8Array.prototype.toBase64 = () => '!!not base64!!';",
    "Error": "globalThis.Error = function () { return 'forged'; };",
}


def tamper_script(tampering: str) -> str:
    return f"""
export default {{
  async fetch(request) {{
    {tampering}
    console.log("after tampering");
    return new Response("tampered " + "x".repeat(8), {{ status: 201, headers: {{ "x-kind": "tamper" }} }});
  }},
}};
"""


@pytest.mark.parametrize("name", list(TAMPERING))
def test_tampering_with_the_runtime_ends_only_that_invocation(abuse_server, tenant: Tenant, victim: Victim, name: str) -> None:
    script = "tamper-" + "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")[:40]
    assert tenant.deploy(script, tamper_script(TAMPERING[name])).status_code in (200, 201)
    with victim.during() as measured, ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: tenant.invoke(script), range(12)))
    measured.assert_unharmed()
    for answer in answers:
        # Either the runtime's captured intrinsics made the tampering harmless (the tenant
        # may still have broken its own Headers or strings), or what the host received was
        # refused: the tenant's own invocation fails, as JSON. Never a forged status.
        if answer.status_code == 201:
            assert answer.text.startswith("tampered")
        else:
            assert answer.status_code in (500, 504), answer.text
            assert answer.json()["error"]["outcome"] in ("exception", "exceededWallTime")
    assert httpx.get(f"{abuse_server.url}/readyz", timeout=5).status_code == 200


def test_log_caps_hold_when_the_runtime_is_tampered_with(abuse_server, tenant: Tenant, victim: Victim) -> None:
    # String.prototype.slice no longer truncates: the isolate's caps hold anyway (captured
    # intrinsics) and the host cuts what it receives.
    code = """
export default {
  fetch() {
    String.prototype.slice = function () { return String(this); };
    const line = "y".repeat(1024 * 1024);
    for (let i = 0; i < 20; i++) console.log(line);
    for (let i = 0; i < 5000; i++) console.log(i);
    return new Response("logged");
  },
};
"""
    assert tenant.deploy("log-flood", code).status_code in (200, 201)
    with victim.during() as measured:
        answers = [tenant.invoke("log-flood") for _ in range(6)]
    measured.assert_unharmed()
    assert all(answer.status_code == 200 for answer in answers), [a.text[:200] for a in answers]
    with tenant.client() as client:
        record = wait_for_record(client, answers[-1].headers["x-isolane-invocation"])
    total = sum(len(entry["message"]) for entry in record["logs"])
    assert total <= 256 * 1024 + 16 * 1024 + 200, total
    assert len(record["logs"]) <= 1002
    assert "truncated" in record["logs"][-1]["message"]


def wait_for_record(client: httpx.Client, record_id: str) -> dict:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        response = client.get(f"/v1/invocations/{record_id}")
        if response.status_code == 200:
            return response.json()
        time.sleep(0.1)
    raise AssertionError(f"record {record_id} never appeared")


# The review's attack: JSON.stringify replaced so that only the response head is forged.
FORGED_HEAD = """
const real = JSON.stringify;
export default {
  fetch(request) {
    const forged = new URL(request.url).searchParams.get("forge");
    JSON.stringify = (value, ...rest) =>
      value && typeof value === "object" && "status" in value ? forged : real(value, ...rest);
    return new Response("looks fine");
  },
};
"""
FORGERIES = ['"abc"', '{"status":"abc","headers":[]}', '{"status":[1],"headers":[]}', '{"status":101,"headers":[],"body":null}', "[]", "1e999"]


def test_forged_response_heads_never_reach_the_client(abuse_server, tenant: Tenant, victim: Victim) -> None:
    assert tenant.deploy("forger", FORGED_HEAD).status_code in (200, 201)
    with victim.during() as measured, ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda forged: tenant.invoke("forger", params={"forge": forged}), FORGERIES * 3))
    measured.assert_unharmed()
    for answer in answers:
        assert answer.status_code == 200 and answer.text == "looks fine", (answer.status_code, answer.text[:200])
    ready = httpx.get(f"{abuse_server.url}/readyz", timeout=5)
    assert ready.status_code == 200, ready.text
    with abuse_server.admin() as admin:
        assert admin.get("/v1/system/executors").json()["restarts"] == 0
