"""Per-namespace limits and quotas, set by admins: limits at upload and at run time, count and
size quotas, and the request rate (a token bucket in the store, shared by servers)."""

from __future__ import annotations

import json
import math
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import MODULE, deploy, invoke, multipart_upload

HELLO = "export default { fetch: () => new Response('hello') };"
# Busy for 25 ms of wall clock, so for at most 25 ms of CPU: within the test server's 50 ms.
BUSY = """
export default {
  fetch() {
    const until = Date.now() + 25;
    let n = 0;
    while (Date.now() < until) n++;
    return new Response(String(n > 0));
  },
};
"""


def _error(response: httpx.Response) -> dict:
    return response.json()["error"]


def _namespace(admin: httpx.Client, settings: dict | None = None) -> str:
    ns = f"q-{uuid.uuid4().hex[:12]}"
    response = admin.put(f"/v1/namespaces/{ns}", json=settings) if settings is not None else admin.put(f"/v1/namespaces/{ns}")
    assert response.status_code == 201, response.text
    return ns


def _upload(client: httpx.Client, ns: str, name: str, code: str, limits: dict | None = None) -> httpx.Response:
    if limits is None:
        return client.put(f"/v1/namespaces/{ns}/scripts/{name}", content=code.encode(), headers={"content-type": MODULE})
    files = multipart_upload({"main.js": (code, MODULE)}, {"main_module": "main.js", "limits": limits})
    return client.put(f"/v1/namespaces/{ns}/scripts/{name}", files=files)


# ---- settings


def test_put_namespace_sets_shows_and_replaces_settings(admin) -> None:
    ns = _namespace(admin, {"limits": {"cpu_ms": 20}, "quotas": {"max_scripts": 3, "requests_per_second": 2.5}})
    shown = admin.get(f"/v1/namespaces/{ns}").json()
    assert shown["limits"] == {"cpu_ms": 20}
    # A rate without a burst gets one second's worth (rounded up).
    assert shown["quotas"] == {"max_scripts": 3, "requests_per_second": 2.5, "burst": 3}
    listed = next(item for item in admin.get("/v1/namespaces").json()["items"] if item["name"] == ns)
    assert (listed["limits"], listed["quotas"]) == (shown["limits"], shown["quotas"])

    # No body: the existing create-or-confirm call changes nothing.
    again = admin.put(f"/v1/namespaces/{ns}")
    assert again.status_code == 200 and again.json()["limits"] == {"cpu_ms": 20}

    # Each object given replaces the namespace's; one left out stays.
    changed = admin.put(f"/v1/namespaces/{ns}", json={"limits": {"wall_ms": 1000, "subrequests": 5}})
    assert changed.status_code == 200
    assert changed.json()["limits"] == {"wall_ms": 1000, "subrequests": 5}
    assert changed.json()["quotas"]["max_scripts"] == 3
    cleared = admin.put(f"/v1/namespaces/{ns}", json={"limits": None, "quotas": {}}).json()
    assert (cleared["limits"], cleared["quotas"]) == ({}, {})

    fresh = admin.put(f"/v1/namespaces/q-{uuid.uuid4().hex[:12]}").json()
    assert (fresh["limits"], fresh["quotas"]) == ({}, {})


@pytest.mark.parametrize(
    ("body", "status", "code", "named"),
    [
        ({"limits": {"cpu": 5}}, 400, "invalid_limit", ("limit", "cpu")),
        ({"limits": {"cpu_ms": 0}}, 400, "invalid_limit", ("limit", "cpu_ms")),
        ({"limits": {"memory_mb": 1.5}}, 400, "invalid_limit", ("limit", "memory_mb")),
        ({"limits": {"wall_ms": True}}, 400, "invalid_limit", ("limit", "wall_ms")),
        ({"limits": []}, 400, "invalid_limit", None),
        ({"quotas": {"max_workers": 5}}, 400, "invalid_quota", ("quota", "max_workers")),
        ({"quotas": {"max_scripts": -1}}, 400, "invalid_quota", ("quota", "max_scripts")),
        ({"quotas": {"max_code_bytes": "lots"}}, 400, "invalid_quota", ("quota", "max_code_bytes")),
        ({"quotas": {"requests_per_second": 0}}, 400, "invalid_quota", ("quota", "requests_per_second")),
        ({"quotas": {"requests_per_second": 5, "burst": 0}}, 400, "invalid_quota", ("quota", "burst")),
        ({"quotas": {"burst": 5}}, 400, "invalid_quota", ("quota", "burst")),
        ({"limit": {"cpu_ms": 5}}, 400, "invalid_request", None),
        ([1, 2], 400, "invalid_request", None),
    ],
)
def test_bad_settings_are_refused_and_change_nothing(admin, body, status, code, named) -> None:
    ns = _namespace(admin, {"limits": {"cpu_ms": 30}})
    response = admin.put(f"/v1/namespaces/{ns}", json=body)
    assert response.status_code == status and _error(response)["code"] == code, response.text
    if named is not None:
        assert _error(response)[named[0]] == named[1]
    assert admin.get(f"/v1/namespaces/{ns}").json()["limits"] == {"cpu_ms": 30}


def test_invalid_json_body(admin) -> None:
    response = admin.put(f"/v1/namespaces/q-{uuid.uuid4().hex[:12]}", content=b"{nope", headers={"content-type": "application/json"})
    assert response.status_code == 400 and _error(response)["code"] == "invalid_json"


def test_only_admins_set_limits_and_quotas(server, admin) -> None:
    ns = _namespace(admin, {"limits": {"cpu_ms": 20}})
    token = admin.post("/v1/tokens", json={"name": "tenant", "scope": f"namespace:{ns}"}).json()["token"]
    with server.client(token) as tenant:
        for body in ({"limits": {"cpu_ms": 50}}, {"quotas": {}}, None):
            response = tenant.put(f"/v1/namespaces/{ns}", json=body) if body is not None else tenant.put(f"/v1/namespaces/{ns}")
            assert response.status_code == 403 and _error(response)["code"] == "admin_required"
        assert tenant.get(f"/v1/namespaces/{ns}").json()["limits"] == {"cpu_ms": 20}


# ---- limits


def test_upload_asking_more_than_the_namespace_allows_is_refused(admin) -> None:
    ns = _namespace(admin, {"limits": {"cpu_ms": 20, "subrequests": 3, "wall_ms": 1000}})
    for limits, name in (({"cpu_ms": 30}, "cpu_ms"), ({"subrequests": 4}, "subrequests"), ({"wall_ms": 1500}, "wall_ms")):
        response = _upload(admin, ns, "greedy", HELLO, limits)
        assert response.status_code == 400, response.text
        error = _error(response)
        assert (error["code"], error["limit"]) == ("limit_exceeds_maximum", name)
        assert "namespace" in error["message"]
    assert admin.get(f"/v1/namespaces/{ns}/scripts/greedy").status_code == 404
    # Past the server's own maximum (50 ms in tests), the server's is the one named.
    admin.put(f"/v1/namespaces/{ns}", json={"limits": {"cpu_ms": 10_000}})
    response = _upload(admin, ns, "greedy", HELLO, {"cpu_ms": 60})
    assert _error(response)["maximum"] == 50 and "server" in _error(response)["message"]
    # Within both: fine.
    assert _upload(admin, ns, "modest", HELLO, {"cpu_ms": 20, "subrequests": 3}).status_code == 201


def test_namespace_limits_bound_deployed_scripts_at_run_time(server, admin) -> None:
    ns = _namespace(admin)
    assert _upload(admin, ns, "busy", BUSY, {"cpu_ms": 50}).status_code == 201
    assert invoke(server, ns, "busy").status_code == 200

    # Lowered after the upload: the run is bounded by the namespace's 5 ms, not the script's 50.
    assert admin.put(f"/v1/namespaces/{ns}", json={"limits": {"cpu_ms": 5}}).status_code == 200
    response = invoke(server, ns, "busy")
    assert response.status_code == 503 and response.headers["x-isolane-outcome"] == "exceededCpu", response.text
    deadline = time.monotonic() + 10  # records are written in batches
    record_url = f"/v1/invocations/{response.headers['x-isolane-invocation']}"
    while (record := admin.get(record_url)).status_code == 404 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert record.json()["outcome"] == "exceededCpu"

    # The script's own info still shows what it asked for; a re-upload asking that is refused.
    assert admin.get(f"/v1/namespaces/{ns}/scripts/busy").json()["limits"] == {"cpu_ms": 50}
    assert _error(_upload(admin, ns, "busy", BUSY, {"cpu_ms": 50}))["code"] == "limit_exceeds_maximum"

    assert admin.put(f"/v1/namespaces/{ns}", json={"limits": {}}).status_code == 200
    assert invoke(server, ns, "busy").status_code == 200


def test_lowered_limits_reach_another_server_within_a_second(make_server, tmp_path) -> None:
    data = tmp_path / "shared"
    first, second = make_server(*LIGHT, data_dir=data), make_server(*LIGHT, data_dir=data)
    with first.admin() as admin:
        ns = _namespace(admin)
        assert _upload(admin, ns, "busy", BUSY).status_code == 201
        assert invoke(second, ns, "busy").status_code == 200  # cached there now
        assert admin.put(f"/v1/namespaces/{ns}", json={"limits": {"cpu_ms": 5}}).status_code == 200
    time.sleep(1.2)
    assert invoke(second, ns, "busy").headers.get("x-isolane-outcome") == "exceededCpu"


def test_namespace_subrequest_limit_applies_at_run_time(server, admin) -> None:
    ns = _namespace(admin)
    code = """
    export default {
      async fetch() {
        const seen = [];
        for (let i = 0; i < 3; i++) {
          try { await fetch("http://127.0.0.1:9/"); seen.push("sent"); } catch (e) { seen.push(e.message); }
        }
        return Response.json(seen);
      },
    };
    """
    deploy(admin, "fetcher", code, ns=ns)
    allowed = invoke(server, ns, "fetcher").json()
    assert admin.put(f"/v1/namespaces/{ns}", json={"limits": {"subrequests": 1}}).status_code == 200
    bounded = invoke(server, ns, "fetcher").json()
    # Every attempt is refused either way (loopback is not reachable); past the limit, for that reason.
    assert not any("subrequest" in str(m).lower() for m in allowed)
    assert any("subrequest" in str(m).lower() for m in bounded[1:]), bounded


# ---- count and size quotas


def test_max_scripts(admin) -> None:
    ns = _namespace(admin, {"quotas": {"max_scripts": 2}})
    deploy(admin, "one", HELLO, ns=ns)
    deploy(admin, "two", HELLO, ns=ns)
    refused = _upload(admin, ns, "three", HELLO)
    assert refused.status_code == 403, refused.text
    error = _error(refused)
    assert (error["code"], error["quota"], error["limit"], error["current"]) == ("quota_exceeded", "max_scripts", 2, 2)
    assert admin.get(f"/v1/namespaces/{ns}/scripts/three").status_code == 404
    # Updating an existing script adds none.
    assert _upload(admin, ns, "two", HELLO + "\n// v2").status_code == 201
    assert admin.delete(f"/v1/namespaces/{ns}/scripts/one").status_code == 200
    assert _upload(admin, ns, "three", HELLO).status_code == 201


def test_max_scripts_holds_under_concurrent_uploads(server, admin) -> None:
    ns = _namespace(admin, {"quotas": {"max_scripts": 3}})

    def attempt(i: int) -> int:
        with server.admin() as client:
            return _upload(client, ns, f"s{i}", HELLO).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(attempt, range(8)))
    assert sorted(statuses) == [201] * 3 + [403] * 5, statuses
    assert len(admin.get(f"/v1/namespaces/{ns}/scripts").json()["items"]) == 3


def test_max_code_bytes_counts_each_scripts_current_version(admin) -> None:
    small, large = "//" + "x" * 40 + "\n" + HELLO, "//" + "y" * 400 + "\n" + HELLO
    size = len(small.encode())
    limit = 2 * size + 10
    ns = _namespace(admin, {"quotas": {"max_code_bytes": limit}})
    deploy(admin, "a", small, ns=ns)
    refused = _upload(admin, ns, "b", large)
    assert refused.status_code == 403
    error = _error(refused)
    assert (error["code"], error["quota"], error["limit"], error["current"]) == ("quota_exceeded", "max_code_bytes", limit, size)
    deploy(admin, "b", small, ns=ns)
    # Replacing a script (201: a new version) counts its new version instead of the old one (older versions are not counted).
    same_size = "//" + "z" * 40 + "\n" + HELLO
    assert _upload(admin, ns, "a", same_size).status_code == 201
    assert _upload(admin, ns, "a", small).status_code == 200  # the version it had: stored already
    assert _error(_upload(admin, ns, "a", large))["quota"] == "max_code_bytes"

    # Lowered below what is in use: nothing is removed, growing is refused, shrinking is not.
    admin.put(f"/v1/namespaces/{ns}", json={"quotas": {"max_code_bytes": 10}})
    assert _error(_upload(admin, ns, "a", small + "//"))["quota"] == "max_code_bytes"
    assert _upload(admin, ns, "a", HELLO).status_code == 201


def test_multipart_uploads_count_every_module(admin) -> None:
    helper = "export const word = 'hi';\n" + "// padding\n" * 30
    main = "import { word } from './helper.js';\nexport default { fetch: () => new Response(word) };"
    total = len(helper.encode()) + len(main.encode())
    ns = _namespace(admin, {"quotas": {"max_code_bytes": total - 1}})
    files = multipart_upload({"main.js": (main, MODULE), "helper.js": (helper, MODULE)}, {"main_module": "main.js"})
    refused = admin.put(f"/v1/namespaces/{ns}/scripts/multi", files=files)
    assert refused.status_code == 403 and _error(refused)["quota"] == "max_code_bytes"
    admin.put(f"/v1/namespaces/{ns}", json={"quotas": {"max_code_bytes": total}})
    files = multipart_upload({"main.js": (main, MODULE), "helper.js": (helper, MODULE)}, {"main_module": "main.js"})
    assert admin.put(f"/v1/namespaces/{ns}/scripts/multi", files=files).status_code == 201


def test_max_kv_namespaces(server, admin) -> None:
    ns = _namespace(admin, {"quotas": {"max_kv_namespaces": 1}})
    token = admin.post("/v1/tokens", json={"name": "tenant", "scope": f"namespace:{ns}"}).json()["token"]
    with server.client(token) as tenant:
        assert tenant.post("/v1/kv/namespaces", json={"title": "first"}).status_code == 201
        refused = tenant.post("/v1/kv/namespaces", json={"title": "second"})
        assert refused.status_code == 403, refused.text
        error = _error(refused)
        assert (error["code"], error["quota"], error["limit"], error["current"]) == ("quota_exceeded", "max_kv_namespaces", 1, 1)
    assert admin.post("/v1/kv/namespaces", json={"title": "by admin", "namespace": ns}).status_code == 403
    assert admin.put(f"/v1/namespaces/{ns}", json={"quotas": {"max_kv_namespaces": 2}}).status_code == 200
    assert admin.post("/v1/kv/namespaces", json={"title": "by admin", "namespace": ns}).status_code == 201


def test_zero_quota_allows_none(admin) -> None:
    ns = _namespace(admin, {"quotas": {"max_scripts": 0}})
    assert _error(_upload(admin, ns, "none", HELLO))["quota"] == "max_scripts"


# ---- request rate


def _burst(server, ns: str, name: str, count: int) -> tuple[list[httpx.Response], float]:
    started = time.monotonic()
    with ThreadPoolExecutor(count) as pool:
        responses = list(pool.map(lambda _: invoke(server, ns, name), range(count)))
    return responses, time.monotonic() - started


def _check_refusals(responses: list[httpx.Response]) -> None:
    for response in responses:
        if response.status_code == 429:
            error = _error(response)
            assert (error["code"], error["quota"]) == ("rate_limited", "requests_per_second")
            retry_after = response.headers["retry-after"]
            assert retry_after.isdigit() and int(retry_after) >= 1 and error["retry_after"] == int(retry_after)
            assert "x-isolane-invocation" not in response.headers
        else:
            assert response.status_code == 200 and response.text == "hello", response.text


def test_rate_quota_under_concurrent_requests(server, admin) -> None:
    ns = _namespace(admin, {"quotas": {"requests_per_second": 5, "burst": 5}})
    deploy(admin, "hello", HELLO, ns=ns)
    responses, elapsed = _burst(server, ns, "hello", 30)
    _check_refusals(responses)
    ok = sum(r.status_code == 200 for r in responses)
    # The burst, plus what refilled while the requests were being served.
    assert 5 <= ok <= 5 + math.ceil(elapsed * 5) + 1, (ok, elapsed)
    assert sum(r.status_code == 429 for r in responses) == 30 - ok

    # After Retry-After, a token is there again.
    time.sleep(int(next(r for r in responses if r.status_code == 429).headers["retry-after"]))
    assert invoke(server, ns, "hello").status_code == 200

    # Other namespaces are not affected, and removing the quota lifts it at once.
    other = _namespace(admin)
    deploy(admin, "hello", HELLO, ns=other)
    assert all(r.status_code == 200 for r in _burst(server, other, "hello", 10)[0])
    assert admin.put(f"/v1/namespaces/{ns}", json={"quotas": {}}).status_code == 200
    assert all(r.status_code == 200 for r in _burst(server, ns, "hello", 10)[0])


def test_rate_quota_counts_requests_by_hostname_too(server, admin) -> None:
    ns = _namespace(admin, {"quotas": {"requests_per_second": 0.1, "burst": 2}})
    deploy(admin, "hello", HELLO, ns=ns)
    by_host = [httpx.get(f"{server.url}/", headers={"host": f"hello.{ns}.localhost"}, timeout=30) for _ in range(2)]
    assert [r.status_code for r in by_host] == [200, 200]
    refused = invoke(server, ns, "hello")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 5


def test_unknown_scripts_take_no_tokens(server, admin) -> None:
    ns = _namespace(admin, {"quotas": {"requests_per_second": 0.1, "burst": 1}})
    deploy(admin, "hello", HELLO, ns=ns)
    for _ in range(3):
        assert invoke(server, ns, "missing").status_code == 404
    assert invoke(server, ns, "hello").status_code == 200
    assert invoke(server, ns, "hello").status_code == 429


LIGHT = ("--executors", "1", "--spare-isolates", "1")


def test_servers_sharing_a_database_share_the_bucket(make_server, tmp_path) -> None:
    data = tmp_path / "shared"
    first, second = make_server(*LIGHT, data_dir=data), make_server(*LIGHT, data_dir=data)
    with first.admin() as admin:
        # One token per 10 s: nothing refills while the test runs.
        ns = _namespace(admin, {"quotas": {"requests_per_second": 0.1, "burst": 6}})
        deploy(admin, "hello", HELLO, ns=ns)
    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(lambda i: invoke(first if i % 2 else second, ns, "hello"), range(20)))
    _check_refusals(responses)
    assert sum(r.status_code == 200 for r in responses) == 6
    # Each server refused some: neither had a bucket of its own.
    assert {i % 2 for i, r in enumerate(responses) if r.status_code == 429} == {0, 1}
    assert invoke(first, ns, "hello").status_code == 429 and invoke(second, ns, "hello").status_code == 429


def test_seed_execute_follows_the_default_namespaces_limits_and_rate(make_server) -> None:
    server = make_server(*LIGHT, "--cpu-ms", "50")
    with server.admin() as admin:
        busy = admin.post("/upload", content=b"const until = Date.now() + 25; while (Date.now() < until) {} 'done'").json()["id"]
        assert admin.post("/execute", content=busy).json()["outcome"] == "ok"
        settings = {"limits": {"cpu_ms": 5}, "quotas": {"requests_per_second": 0.1, "burst": 2}}
        assert admin.put("/v1/namespaces/default", json=settings).status_code == 200
        assert admin.post("/execute", content=busy).json()["outcome"] == "exceededCpu"
        assert admin.post("/execute", content=busy).status_code == 200
        refused = admin.post("/execute", content=busy)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert _error(refused)["code"] == "rate_limited"


def test_deleting_a_namespace_drops_its_bucket(server, admin) -> None:
    ns = _namespace(admin, {"quotas": {"requests_per_second": 0.1, "burst": 1}})
    deploy(admin, "hello", HELLO, ns=ns)
    assert invoke(server, ns, "hello").status_code == 200
    assert invoke(server, ns, "hello").status_code == 429
    assert admin.delete(f"/v1/namespaces/{ns}").status_code == 200
    admin.put(f"/v1/namespaces/{ns}", json={"quotas": {"requests_per_second": 0.1, "burst": 1}})
    deploy(admin, "hello", HELLO, ns=ns)
    assert invoke(server, ns, "hello").status_code == 200


def test_settings_survive_json_round_trip(admin) -> None:
    ns = _namespace(admin, {"quotas": {"requests_per_second": 1e6, "max_code_bytes": 2**53 - 1}})
    assert json.loads(admin.get(f"/v1/namespaces/{ns}").text)["quotas"]["max_code_bytes"] == 2**53 - 1


def test_a_body_its_model_refuses_changes_nothing(admin) -> None:
    """NamespaceSettings validates the body, all of it before anything changes: a valid
    `limits` beside a refused quota is not applied either."""
    ns = _namespace(admin, {"limits": {"cpu_ms": 30}, "quotas": {"max_scripts": 3}})
    for body, code, where, named in (
        ({"limits": {"cpu_ms": 50}, "quotas": {"max_scripts": 1.5}}, "invalid_quota", "quotas.max_scripts:", ("quota", "max_scripts")),
        ({"limits": {"cpu_ms": 50}, "quotas": {"requests_per_second": "5"}}, "invalid_quota", "quotas.requests_per_second:", ("quota", "requests_per_second")),
        ({"limits": {"cpu_ms": 2**53}}, "invalid_limit", "limits.cpu_ms:", ("limit", "cpu_ms")),
        ({"limits": {"cpu_ms": 50}, "outbound": "Platform/egress"}, "invalid_outbound", "outbound:", None),
    ):
        response = admin.put(f"/v1/namespaces/{ns}", json=body)
        assert response.status_code == 400, response.text
        error = _error(response)
        assert error["code"] == code and error["message"].startswith(where), response.text
        if named is not None:
            assert error[named[0]] == named[1]
    settings = admin.get(f"/v1/namespaces/{ns}").json()
    assert (settings["limits"], settings["quotas"], settings["outbound"]) == ({"cpu_ms": 30}, {"max_scripts": 3}, None)


def test_the_settings_model_names_every_limit_and_quota() -> None:
    from isolane.platform.quotas import LIMIT_NAMES, QUOTA_NAMES
    from isolane.server.models.namespaces import LimitSettings, QuotaSettings

    assert tuple(LimitSettings.__annotations__) == LIMIT_NAMES
    assert tuple(QuotaSettings.__annotations__) == QUOTA_NAMES
