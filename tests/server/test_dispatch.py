"""Workers for Platforms routing: a dispatch worker in front of a namespace, and an
outbound worker behind its fetch() calls."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import httpx
import pytest

from isolane.testing import Server
from tests.conftest import ADMIN_TOKEN, TEST_SERVER_ARGS, deploy, invoke
from tests.server.test_fetch import Upstream

ROUTER = """
const PLANS = { free: { cpuMs: 10, subRequests: 1 }, pro: { cpuMs: 45 } };
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const [, tenant, ...rest] = url.pathname.split("/");
    const plan = tenant === "loopy" || tenant === "frugal" ? PLANS.free : PLANS.pro;
    try {
      const worker = env.DISPATCHER.get(tenant, {}, { limits: plan });
      const inner = new Request(`https://${tenant}.example/${rest.join("/")}${url.search}`, request);
      const response = await worker.fetch(inner);
      const out = new Response(response.body, response);
      out.headers.set("x-dispatched-by", "router");
      return out;
    } catch (err) {
      if (err.message.includes("Worker not found")) {
        return new Response(`no such tenant: ${tenant}`, { status: 404, headers: { "x-custom-404": "yes" } });
      }
      return Response.json({ caught: err.message, name: err.name }, { status: 502 });
    }
  },
};
"""

TENANT = """
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const body = request.method === "POST" ? await request.text() : null;
    return Response.json({ tenant: NAME, path: url.pathname, query: url.search, method: request.method, body,
                           header: request.headers.get("x-client") }, { status: 201, headers: { "x-tenant": NAME } });
  },
};
"""

LOOPY = "export default { async fetch() { for (;;) {} } };"
THROWER = "export default { async fetch() { throw new RangeError('tenant broke'); } };"
FRUGAL = """export default { async fetch() {
  const tries = [];
  for (let i = 0; i < 2; i++) {
    try { await fetch("http://127.0.0.1:9/"); } catch (err) { tries.push(err.message); }
  }
  return Response.json(tries);
} };"""
STREAMER = """export default { async fetch() {
  const enc = new TextEncoder();
  let n = 0;
  const body = new ReadableStream({ pull(c) { if (n < 3) c.enqueue(enc.encode("part" + n++ + ";")); else c.close(); } });
  return new Response(body, { headers: { "content-type": "text/plain" } });
} };"""


def _record(server: Server, record_id: str) -> dict:
    with server.admin() as admin:
        for _ in range(100):
            response = admin.get(f"/v1/invocations/{record_id}")
            if response.status_code == 200:
                return response.json()
            time.sleep(0.05)
    raise AssertionError(f"no record {record_id}")


def _by_host(server: Server, host: str, path: str, method: str = "GET", **kwargs) -> httpx.Response:
    return httpx.request(method, f"{server.url}{path}", headers={"host": host, **kwargs.pop("headers", {})}, timeout=30, **kwargs)


@pytest.fixture(scope="module")
def routed(server: Server) -> Server:
    with server.admin() as admin:
        for ns in ("dsp-platform", "dsp-shop"):
            assert admin.put(f"/v1/namespaces/{ns}").status_code in (200, 201)
        deploy(admin, "router", ROUTER, ns="dsp-platform")
        for name in ("alpha", "beta", "gamma"):
            deploy(admin, name, f"const NAME = {name!r};" + TENANT, ns="dsp-shop")
        deploy(admin, "loopy", LOOPY, ns="dsp-shop")
        deploy(admin, "thrower", THROWER, ns="dsp-shop")
        deploy(admin, "frugal", FRUGAL, ns="dsp-shop")
        deploy(admin, "streamer", STREAMER, ns="dsp-shop")
        response = admin.put("/v1/namespaces/dsp-shop", json={"dispatcher": "dsp-platform/router"})
        assert response.status_code == 200, response.text
        assert response.json()["dispatcher"] == "dsp-platform/router"
    return server


def test_the_dispatcher_routes_three_tenants_by_path(routed: Server) -> None:
    for name in ("alpha", "beta", "gamma"):
        response = _by_host(routed, "www.dsp-shop.localhost", f"/{name}/orders/7?x=1", headers={"x-client": "c1"})
        assert response.status_code == 201, response.text
        assert response.json() == {"tenant": name, "path": "/orders/7", "query": "?x=1", "method": "GET", "body": None, "header": "c1"}
        assert response.headers["x-tenant"] == name
        assert response.headers["x-dispatched-by"] == "router"
    posted = _by_host(routed, "anything.dsp-shop.localhost", "/beta/submit", method="POST", content=b"payload")
    assert posted.json()["body"] == "payload" and posted.json()["method"] == "POST"


def test_path_invocations_of_a_dispatched_namespace_go_to_the_dispatcher_too(routed: Server) -> None:
    # /v1/namespaces/dsp-shop/scripts/alpha/invoke/beta/x: the dispatcher decides (by its path: beta).
    response = invoke(routed, "dsp-shop", "alpha", "/beta/x")
    assert response.json()["tenant"] == "beta"
    assert response.headers["x-dispatched-by"] == "router"


def test_an_unknown_tenant_gets_the_dispatchers_own_404(routed: Server) -> None:
    response = _by_host(routed, "www.dsp-shop.localhost", "/nobody/here")
    assert response.status_code == 404
    assert response.text == "no such tenant: nobody"
    assert response.headers["x-custom-404"] == "yes"


def test_a_looping_tenant_is_cut_at_the_dispatchers_tighter_cpu_limit(routed: Server) -> None:
    response = _by_host(routed, "www.dsp-shop.localhost", "/loopy/")
    assert response.status_code == 502, response.text  # the dispatcher caught it and answered
    caught = response.json()
    assert caught["name"] == "Error" and "exceeded CPU time limit" in caught["caught"]
    record = _record(routed, re.search(r"invocation ([0-9a-f]+)", caught["caught"]).group(1))
    assert record["trigger"] == "dispatch" and record["outcome"] == "exceededCpu"
    assert record["namespace"] == "dsp-shop" and record["script"] == "loopy"
    assert record["cpu_ms"] < 40  # the plan's 10 ms (plus the watchdog's slack), not the server's 50
    dispatcher = _record(routed, response.headers["x-isolane-invocation"])
    assert dispatcher["outcome"] == "ok" and dispatcher["script"] == "router" and dispatcher["trigger"] == "fetch"


def test_a_tenant_exception_reaches_the_dispatcher_as_an_error(routed: Server) -> None:
    response = _by_host(routed, "www.dsp-shop.localhost", "/thrower/")
    assert response.status_code == 502
    assert "Worker threw exception: RangeError: tenant broke" in response.json()["caught"]


def test_the_plans_subrequest_limit_applies_to_the_tenant(routed: Server) -> None:
    tries = _by_host(routed, "www.dsp-shop.localhost", "/frugal/").json()
    assert "too many subrequests (the limit is 1" not in tries[0]
    assert "too many subrequests (the limit is 1 per invocation)" in tries[1]


def test_a_streamed_tenant_body_reaches_the_dispatcher_whole(routed: Server) -> None:
    response = _by_host(routed, "www.dsp-shop.localhost", "/streamer/")
    assert response.status_code == 200 and response.text == "part0;part1;part2;"
    assert response.headers["x-dispatched-by"] == "router"


def test_namespaces_without_a_dispatcher_and_the_dispatcher_itself_are_unchanged(routed: Server) -> None:
    with routed.admin() as admin:
        deploy(admin, "direct", "const NAME = 'direct';" + TENANT)
    assert _by_host(routed, "direct.default.localhost", "/p").json()["tenant"] == "direct"
    # The dispatch worker called directly has no DISPATCHER: it answers from its catch.
    response = invoke(routed, "dsp-platform", "router", "/alpha/")
    assert response.status_code == 502 and response.json()["name"] == "TypeError"


def test_dispatcher_settings_are_validated_and_removable(server: Server, admin: httpx.Client) -> None:
    admin.put("/v1/namespaces/dsp-solo")
    for bad in ("dsp-platform", "dsp-platform/Router", "a/b/c", "dsp-solo/self", 7, "/router"):
        response = admin.put("/v1/namespaces/dsp-solo", json={"dispatcher": bad})
        assert response.status_code == 400, bad
        assert response.json()["error"]["code"] == "invalid_dispatcher"
    assert admin.put("/v1/namespaces/dsp-solo", json={"outbound": "x"}).json()["error"]["code"] == "invalid_outbound"
    assert admin.put("/v1/namespaces/dsp-solo", json={"dispatcher": "dsp-platform/missing"}).json()["dispatcher"] == "dsp-platform/missing"
    deploy(admin, "own", "const NAME = 'own';" + TENANT, ns="dsp-solo")
    response = _by_host(server, "own.dsp-solo.localhost", "/")
    assert response.status_code == 503 and response.json()["error"]["code"] == "dispatcher_unavailable"
    cleared = admin.put("/v1/namespaces/dsp-solo", json={"dispatcher": None})
    assert cleared.json()["dispatcher"] is None
    assert _by_host(server, "own.dsp-solo.localhost", "/").json()["tenant"] == "own"
    ns_token = admin.post("/v1/namespaces/dsp-solo/tokens", json={"name": "t"})
    if ns_token.status_code in (200, 201):  # a namespace token may not set routing (admin only)
        token = ns_token.json()["token"]
        with server.client(token) as client:
            assert client.put("/v1/namespaces/dsp-solo", json={"dispatcher": "dsp-platform/router"}).status_code == 403


# ---- outbound workers

OUTBOUND = """
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/blocked") return new Response("blocked by the platform", { status: 451 });
    if (url.pathname === "/who") {
      return Response.json({ namespace: env.ISOLANE_CALLER_NAMESPACE, script: env.ISOLANE_CALLER_SCRIPT });
    }
    if (url.pathname === "/crash") throw new Error("outbound broke");
    if (url.pathname === "/old-hello") url.pathname = "/hello";  // rewritten
    const response = await fetch(new Request(url, request));
    const out = new Response(response.body, response);
    out.headers.set("x-outbound", "seen");
    return out;
  },
};
"""

CALLER = """
export default {
  async fetch(request) {
    const url = new URL(request.url);
    const target = "http://127.0.0.1:" + url.searchParams.get("port") + url.pathname;
    try {
      const init = request.method === "POST" ? { method: "POST", body: await request.text(), headers: { "x-test": "t" } } : {};
      const r = await fetch(target, init);
      return Response.json({ status: r.status, text: await r.text(), outbound: r.headers.get("x-outbound"),
                             upstream: r.headers.get("x-upstream") });
    } catch (err) {
      return Response.json({ error: err.name, message: err.message });
    }
  },
};
"""


@pytest.fixture(scope="module")
def upstream_port() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()


@pytest.fixture(scope="module")
def egress(upstream_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    instance = Server(
        tmp_path_factory.mktemp("outbound") / "data",
        *TEST_SERVER_ARGS,
        "--egress-allow",
        f"127.0.0.1:{upstream_port}",
        admin_token=ADMIN_TOKEN,
    ).start()
    with instance.admin() as admin:
        for ns in ("dsp-platform", "tenants", "others"):
            admin.put(f"/v1/namespaces/{ns}")
        deploy(admin, "egress", OUTBOUND, ns="dsp-platform")
        for ns, name in (("tenants", "a"), ("tenants", "b"), ("others", "a")):
            deploy(admin, name, CALLER, ns=ns)
            assert admin.put(f"/v1/namespaces/{ns}", json={"outbound": "dsp-platform/egress"}).status_code == 200
    yield instance
    instance.stop()


def _call(server: Server, ns: str, name: str, path: str, port: int, **kwargs) -> dict:
    response = invoke(server, ns, name, f"{path}?port={port}", **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_outbound_worker_blocks_a_destination(egress: Server, upstream_port: int) -> None:
    assert _call(egress, "tenants", "a", "/blocked", upstream_port) == {
        "status": 451, "text": "blocked by the platform", "outbound": None, "upstream": None,
    }


def test_the_outbound_worker_rewrites_a_destination(egress: Server, upstream_port: int) -> None:
    assert _call(egress, "tenants", "a", "/old-hello", upstream_port) == {
        "status": 200, "text": "hello from upstream", "outbound": "seen", "upstream": "yes",
    }


def test_the_outbound_worker_passes_a_request_through(egress: Server, upstream_port: int) -> None:
    result = _call(egress, "tenants", "b", "/echo", upstream_port, method="POST", content=b"sent on")
    assert result["status"] == 200 and result["outbound"] == "seen"
    import json

    assert json.loads(result["text"]) == {"method": "POST", "path": "/echo", "body": "sent on", "x-test": "t"}


def test_the_outbound_worker_sees_each_callers_namespace_and_name(egress: Server, upstream_port: int) -> None:
    import json

    for _ in range(2):  # warm isolates of one caller never serve another
        for ns, name in (("tenants", "a"), ("tenants", "b"), ("others", "a")):
            who = json.loads(_call(egress, ns, name, "/who", upstream_port)["text"])
            assert who == {"namespace": ns, "script": name}


def test_a_failing_outbound_worker_is_a_type_error_with_its_own_record(egress: Server, upstream_port: int) -> None:
    result = _call(egress, "tenants", "a", "/crash", upstream_port)
    assert result["error"] == "TypeError" and "outbound broke" in result["message"]
    record = _record(egress, re.search(r"invocation ([0-9a-f]+)", result["message"]).group(1))
    assert record["trigger"] == "outbound" and record["outcome"] == "exception"
    assert record["namespace"] == "dsp-platform" and record["script"] == "egress"


def test_without_an_outbound_worker_fetch_goes_straight_out(egress: Server, upstream_port: int) -> None:
    with egress.admin() as admin:
        admin.put("/v1/namespaces/others", json={"outbound": None})
    time.sleep(1.1)  # other caches (the policy's) follow within a second
    assert _call(egress, "others", "a", "/hello", upstream_port) == {
        "status": 200, "text": "hello from upstream", "outbound": None, "upstream": "yes",
    }
