"""Invoking fetch handlers over HTTP: by path and by hostname, requests and responses both
ways, outcomes and limits, waitUntil, isolation."""

from __future__ import annotations

import concurrent.futures
import hashlib
import time

import httpx
import pytest

from tests.conftest import deploy, invoke

ECHO = """
export default {
  async fetch(request, env, ctx) {
    const body = await request.arrayBuffer();
    const bytes = new Uint8Array(body);
    let sum = 0;
    for (const b of bytes) sum = (sum + b) % 65521;
    return Response.json({
      url: request.url,
      method: request.method,
      agent: request.headers.get("x-test"),
      length: bytes.length,
      sum,
    });
  },
};
"""


@pytest.fixture(scope="module", autouse=True)
def scripts(server) -> None:
    with server.admin() as admin:
        admin.put("/v1/namespaces/shop")
        deploy(admin, "echo", ECHO, ns="shop")


def test_path_invocation_sees_the_canonical_url(server) -> None:
    response = invoke(server, "shop", "echo", "/a/b%20c", params={"q": "1", "r": "x y"}, headers={"x-test": "yes"})
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["url"] == "http://echo.shop.localhost/a/b%20c?q=1&r=x+y"
    assert (data["method"], data["agent"], data["length"]) == ("GET", "yes", 0)
    assert response.headers["x-isolane-invocation"]
    assert invoke(server, "shop", "echo").json()["url"] == "http://echo.shop.localhost/"


def test_hostname_invocation(server) -> None:
    response = httpx.post(f"{server.url}/any/path?x=1", headers={"host": "echo.shop.localhost"}, content=b"abc")
    data = response.json()
    assert data["url"] == "http://echo.shop.localhost/any/path?x=1"
    assert (data["method"], data["length"]) == ("POST", 3)
    # Other hosts still reach the management API.
    assert httpx.get(f"{server.url}/healthz", headers={"host": "api.localhost"}).status_code == 200


def test_every_method_reaches_the_handler(server) -> None:
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        assert invoke(server, "shop", "echo", method=method).json()["method"] == method
    head = invoke(server, "shop", "echo", method="HEAD")
    assert head.status_code == 200 and head.content == b""


def test_one_mebibyte_binary_body_each_way(server, admin: httpx.Client) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB, every byte value
    data = invoke(server, "shop", "echo", method="POST", content=payload).json()
    assert data["length"] == len(payload) and data["sum"] == sum(payload) % 65521
    deploy(
        admin,
        "big-reply",
        """export default { fetch() {
          const bytes = new Uint8Array(1024 * 1024);
          for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) & 255;
          return new Response(bytes, { headers: { "content-type": "application/octet-stream" } });
        } };""",
        ns="shop",
    )
    response = invoke(server, "shop", "big-reply")
    expected = bytes((i * 7) & 255 for i in range(1024 * 1024))
    assert hashlib.sha256(response.content).digest() == hashlib.sha256(expected).digest()
    assert response.headers["content-length"] == str(1024 * 1024)


def test_streamed_bodies_both_ways(server, admin: httpx.Client) -> None:
    deploy(
        admin,
        "streamer",
        """export default { async fetch(request) {
          let seen = 0, chunks = 0;
          const reader = request.body.getReader();
          for (;;) { const { done, value } = await reader.read(); if (done) break; seen += value.length; chunks++; }
          let n = 0;
          const stream = new ReadableStream({
            pull(controller) {
              if (n === 3) { controller.close(); return; }
              controller.enqueue(new TextEncoder().encode(`part${n++};`));
            },
          });
          return new Response(stream, { headers: { "x-seen": String(seen) } });
        } };""",
        ns="shop",
    )

    def generated():
        for _ in range(16):
            yield b"z" * 4096

    response = invoke(server, "shop", "streamer", method="POST", content=generated())
    assert response.status_code == 200, response.text
    assert response.text == "part0;part1;part2;" and response.headers["x-seen"] == str(16 * 4096)


def test_status_headers_and_cookies_pass_through(server, admin: httpx.Client) -> None:
    deploy(
        admin,
        "teapot",
        """export default { fetch() {
          const headers = new Headers({ "x-one": "1" });
          headers.append("set-cookie", "a=1");
          headers.append("set-cookie", "b=2");
          return new Response("short and stout", { status: 418, headers });
        } };""",
        ns="shop",
    )
    response = invoke(server, "shop", "teapot")
    assert response.status_code == 418 and response.text == "short and stout"
    assert response.headers["x-one"] == "1"
    # By path, a cookie is mounted at the script's prefix (tests/server/test_tenant_headers.py).
    mounted = "Path=/v1/namespaces/shop/scripts/teapot/invoke/"
    assert response.headers.get_list("set-cookie") == [f"a=1; {mounted}", f"b=2; {mounted}"]
    assert "x-isolane-outcome" not in response.headers


def test_exception_becomes_500_with_outcome_and_record(server, admin: httpx.Client) -> None:
    deploy(admin, "thrower", 'export default { fetch() { console.log("about to throw"); throw new TypeError("nope"); } };', ns="shop")
    response = invoke(server, "shop", "thrower")
    assert response.status_code == 500
    assert response.headers["x-isolane-outcome"] == "exception"
    assert response.json()["error"]["code"] == "worker_exception"
    record_id = response.headers["x-isolane-invocation"]
    record = _record(admin, record_id)
    assert record["outcome"] == "exception" and record["status"] == 500 and record["trigger"] == "fetch"
    assert record["error"]["name"] == "TypeError" and "worker.js:1" in (record["error"]["stack"] or "")
    assert [entry["message"] for entry in record["logs"]] == ["about to throw"]


def test_non_response_is_an_exception(server, admin: httpx.Client) -> None:
    deploy(admin, "not-a-response", "export default { fetch() { return 'text'; } };", ns="shop")
    response = invoke(server, "shop", "not-a-response")
    assert response.status_code == 500 and response.headers["x-isolane-outcome"] == "exception"


def _record(admin: httpx.Client, record_id: str) -> dict:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        response = admin.get(f"/v1/invocations/{record_id}")
        if response.status_code == 200:
            return response.json()
        time.sleep(0.05)
    raise AssertionError(f"record {record_id} never appeared")


LIMIT_CASES = {
    "cpu-loop": ("export default { fetch() { while (true) {} } };", 503, "exceededCpu"),
    "cpu-after-await": ("export default { async fetch() { await null; for (;;) {} } };", 503, "exceededCpu"),
    "heap-bomb": ("export default { fetch() { const a = []; for (;;) a.push(new Array(100000).fill(1.5)); } };", 503, None),
    "never-settles": ("export default { fetch() { return new Promise(() => {}); } };", 504, "exceededWallTime"),
}


@pytest.mark.parametrize("name", sorted(LIMIT_CASES))
def test_limits_on_fetch_handlers_leave_others_served(server, admin: httpx.Client, name: str) -> None:
    code, status, outcome = LIMIT_CASES[name]
    deploy(admin, name, code, ns="shop")
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        bad = pool.submit(invoke, server, "shop", name)
        time.sleep(0.05)
        good = invoke(server, "shop", "echo")
        assert good.status_code == 200
        response = bad.result()
    assert response.status_code == status, response.text
    assert response.headers["x-isolane-outcome"] in ([outcome] if outcome else ["exceededCpu", "exceededMemory"])
    assert invoke(server, "shop", "echo").status_code == 200


def test_wait_until_runs_after_the_response(server, admin: httpx.Client) -> None:
    deploy(
        admin,
        "later",
        """export default { fetch(request, env, ctx) {
          ctx.waitUntil(new Promise((resolve) => setTimeout(() => { console.log("after the response"); resolve(); }, 400)));
          return new Response("now");
        } };""",
        ns="shop",
    )
    started = time.monotonic()
    response = invoke(server, "shop", "later")
    answered_after = time.monotonic() - started
    assert response.text == "now"
    record = _record(admin, response.headers["x-isolane-invocation"])
    assert record["outcome"] == "ok" and record["status"] == 200
    assert [entry["message"] for entry in record["logs"]] == ["after the response"]
    assert record["wall_ms"] >= 400
    # The response did not wait for the waitUntil work (which took the invocation >= 400 ms).
    assert answered_after < record["wall_ms"] / 1000 - 0.2, (answered_after, record["wall_ms"])


def test_module_state_persists_per_isolate_but_not_across_scripts(server, admin: httpx.Client) -> None:
    deploy(admin, "counter", "let n = 0; globalThis.leak = 'mine'; export default { fetch: () => new Response(String(++n)) };", ns="shop")
    deploy(admin, "peeker", "export default { fetch: () => new Response(typeof globalThis.leak + ' ' + typeof n) };", ns="shop")
    counts = [int(invoke(server, "shop", "counter").text) for _ in range(3)]
    assert counts == sorted(counts) and counts[-1] >= 2
    assert invoke(server, "shop", "peeker").text == "undefined undefined"


def test_host_is_unreachable_from_fetch_handlers(server, admin: httpx.Client) -> None:
    deploy(
        admin,
        "prober",
        """export default { fetch() {
          const names = ["require", "process", "Deno", "Bun", "module", "__timer_manager", "__isolane_doorbell",
                         "__isolane_exports", "importScripts", "SharedArrayBuffer", "WebAssembly"];
          return Response.json(Object.fromEntries(names.map((n) => [n, typeof globalThis[n]])));
        } };""",
        ns="shop",
    )
    seen = invoke(server, "shop", "prober").json()
    for name in ("require", "process", "Deno", "Bun", "module", "__timer_manager", "__isolane_doorbell", "__isolane_exports", "importScripts"):
        assert seen[name] == "undefined", name


def test_unknown_scripts_and_namespaces(server) -> None:
    for ns, name in (("shop", "nope"), ("nowhere", "echo"), ("Bad_NS", "x")):
        response = invoke(server, ns, name)
        assert response.status_code == 404 and response.json()["error"]["code"] == "script_not_found"
    response = httpx.get(f"{server.url}/", headers={"host": "nope.shop.localhost"})
    assert response.status_code == 404 and response.json()["error"]["code"] == "script_not_found"


def test_request_body_limit(make_server) -> None:
    small = make_server("--max-request-bytes", "1000")
    with small.admin() as admin:
        deploy(admin, "echo", ECHO)
    response = invoke(small, "default", "echo", method="POST", content=b"x" * 2000)
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"
    assert invoke(small, "default", "echo", method="POST", content=b"x" * 1000).json()["length"] == 1000


def test_streamed_response_reaches_the_client_as_it_is_produced(server, admin: httpx.Client) -> None:
    deploy(
        admin,
        "ticker",
        """export default { fetch() {
          const encoder = new TextEncoder();
          let n = 0;
          const stream = new ReadableStream({
            async pull(controller) {
              if (n > 0) await new Promise((resolve) => setTimeout(resolve, 300));
              if (n === 3) { controller.close(); return; }
              controller.enqueue(encoder.encode(`tick ${n++}\\n`));
            },
          });
          return new Response(stream, { headers: { "content-type": "text/plain" } });
        } };""",
        ns="shop",
    )
    started = time.monotonic()
    arrivals = []
    with httpx.stream("GET", f"{server.url}/v1/namespaces/shop/scripts/ticker/invoke", timeout=30) as response:
        assert response.status_code == 200 and "content-length" not in response.headers
        for line in response.iter_lines():
            arrivals.append((line, time.monotonic() - started))
    assert [line for line, _ in arrivals] == ["tick 0", "tick 1", "tick 2"]
    # The first tick arrived while the script was still waiting to produce the last one.
    assert arrivals[-1][1] - arrivals[0][1] >= 0.45, arrivals


def test_large_streamed_response_is_complete(server, admin: httpx.Client) -> None:
    deploy(
        admin,
        "firehose",
        """export default { fetch() {
          let sent = 0;
          const stream = new ReadableStream({
            pull(controller) {
              if (sent === 128) { controller.close(); return; }
              const chunk = new Uint8Array(65536);
              chunk.fill(sent & 255);
              sent++;
              controller.enqueue(chunk);
            },
          });
          return new Response(stream);
        } };""",
        ns="shop",
    )
    expected = b"".join(bytes([i & 255]) * 65536 for i in range(128))
    with httpx.stream("GET", f"{server.url}/v1/namespaces/shop/scripts/firehose/invoke", timeout=30) as response:
        received = bytearray()
        for chunk in response.iter_bytes():
            received += chunk
            time.sleep(0.001)  # a client slower than the script: backpressure, not buffering
    assert hashlib.sha256(received).digest() == hashlib.sha256(expected).digest()


def test_stream_that_fails_midway_truncates_the_response(server, admin: httpx.Client) -> None:
    deploy(
        admin,
        "brittle",
        """export default { fetch() {
          let n = 0;
          const stream = new ReadableStream({
            async pull(controller) {
              await new Promise((resolve) => setTimeout(resolve, 50));  // the head has gone out by now
              if (n++ === 2) throw new Error("the stream broke");
              controller.enqueue(new TextEncoder().encode("ok;"));
            },
          });
          return new Response(stream);
        } };""",
        ns="shop",
    )
    with pytest.raises(httpx.RemoteProtocolError):
        with httpx.stream("GET", f"{server.url}/v1/namespaces/shop/scripts/brittle/invoke", timeout=30) as response:
            record_id = response.headers["x-isolane-invocation"]
            b"".join(response.iter_bytes())
    with server.admin() as admin_client:
        record = _record(admin_client, record_id)
    assert record["outcome"] == "exception" and "the stream broke" in record["error"]["message"]
    assert invoke(server, "shop", "echo").status_code == 200


def test_request_body_streams_into_the_running_handler(server, admin: httpx.Client) -> None:
    deploy(
        admin,
        "arrivals",
        """export default { async fetch(request) {
          const started = Date.now();
          const seen = [];
          for await (const chunk of request.body) seen.push([chunk.length, Date.now() - started]);
          return Response.json(seen);
        } };""",
        ns="shop",
    )

    def slow_body():
        for index in range(3):
            if index:
                time.sleep(0.3)
            yield b"x" * 1000

    seen = invoke(server, "shop", "arrivals", method="POST", content=slow_body()).json()
    assert sum(size for size, _ in seen) == 3000
    assert seen[0][1] < 150 and seen[-1][1] >= 500  # the handler read the first piece long before the last


def test_streamed_request_body_over_the_limit_errors_the_stream(make_server) -> None:
    small = make_server("--max-request-bytes", "1000")
    with small.admin() as admin:
        deploy(
            admin,
            "reader",
            """export default { async fetch(request) {
              try { await request.text(); return new Response("read it all"); }
              catch (err) { return new Response(`${err.name}: ${err.message}`, { status: 413 }); }
            } };""",
        )

    def chunked():
        for _ in range(3):
            yield b"y" * 600
            time.sleep(0.05)

    response = invoke(small, "default", "reader", method="POST", content=chunked())
    assert response.status_code == 413 and response.text.startswith("TypeError") and "limit" in response.text


def test_client_going_away_cancels_a_streaming_invocation(server, admin: httpx.Client) -> None:
    deploy(
        admin,
        "endless",
        """export default { fetch() {
          const stream = new ReadableStream({
            async pull(controller) {
              await new Promise((resolve) => setTimeout(resolve, 20));
              controller.enqueue(new TextEncoder().encode("more\\n"));
            },
          });
          return new Response(stream);
        } };""",
        ns="shop",
    )
    with httpx.stream("GET", f"{server.url}/v1/namespaces/shop/scripts/endless/invoke", timeout=30) as response:
        record_id = response.headers["x-isolane-invocation"]
        next(response.iter_lines())
    record = _record(admin, record_id)
    assert record["outcome"] == "canceled" and record["wall_ms"] < 1500  # not the 2 s wall-clock limit
