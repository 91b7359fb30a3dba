"""`isolane.Client` against a real server over HTTP: every group of the API, typed results
and typed errors."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from isolane.client import (
    AuthenticationError,
    BadRequest,
    Client,
    Conflict,
    ConnectError,
    CreatedToken,
    InvocationRecord,
    IsolaneError,
    Module,
    NotFound,
    PermissionDenied,
    SERVICE_WORKER_JS,
    RateLimited,
    Script,
    ServerError,
    platform_error,
)
from isolane.testing import Server, free_port
from tests.conftest import ADMIN_TOKEN

HELLO = 'export default { fetch(request, env) { console.log("hi"); return new Response("hello " + (env.GREETING ?? "world")); } };'
THROWS = 'export default { fetch() { throw new TypeError("boom"); } };'


@pytest.fixture()
def client(server: Server) -> Iterator[Client]:
    with Client(server.url, ADMIN_TOKEN) as instance:
        yield instance


def wait_for_records(client: Client, ns: str, name: str, count: int) -> list[InvocationRecord]:
    """Records are written in batches (about every 50 ms)."""
    deadline = time.monotonic() + 10
    while True:
        items = client.list_invocations(ns, name).items
        if len(items) >= count or time.monotonic() > deadline:
            return items
        time.sleep(0.05)


def test_namespaces_and_scripts_round_trip(client: Client) -> None:
    namespace = client.create_namespace("client-ns", limits={"cpu_ms": 40}, quotas={"max_scripts": 5})
    assert namespace.name == "client-ns" and namespace.limits == {"cpu_ms": 40} and namespace.quotas == {"max_scripts": 5}
    assert client.create_namespace("client-ns").limits == {"cpu_ms": 40}  # left out: kept
    assert client.create_namespace("client-ns", quotas=None).quotas == {}
    assert "client-ns" in [item.name for item in client.list_namespaces()]

    uploaded = client.upload_script("client-ns", "hello", HELLO, vars={"GREETING": "hola"}, tags=["t1", "t2"])
    assert uploaded.name == "hello" and uploaded.handlers == ["fetch"] and len(uploaded.version_id) == 32
    script = client.get_script("client-ns", "hello")
    assert isinstance(script, Script)
    assert script.version_id == uploaded.version_id and script.tags == ["t1", "t2"]
    assert [(binding.name, binding.type) for binding in script.bindings] == [("GREETING", "plain_text")]
    assert client.get_namespace("client-ns").script_count == 1

    response = client.invoke("client-ns", "hello", "/greet", params={"q": "1"})
    assert response.status_code == 200 and response.text == "hello hola"
    assert platform_error(response) is None
    content = client.get_script_content("client-ns", "hello")
    assert content.content_type.startswith("multipart/form-data") and HELLO.encode() in content.content

    client.delete_script("client-ns", "hello")
    with pytest.raises(NotFound) as caught:
        client.get_script("client-ns", "hello")
    assert caught.value.status == 404 and caught.value.code == "script_not_found"
    client.delete_namespace("client-ns")
    with pytest.raises(NotFound):
        client.get_namespace("client-ns")


def test_raw_upload_modules_and_paging(client: Client) -> None:
    client.create_namespace("client-paging")
    raw = client.upload_script("client-paging", "raw", "export default { fetch: () => new Response('raw') };")
    assert client.get_script("client-paging", "raw").main_module == "worker.js" and raw.version_id
    main = Module("main.ts", 'import { word } from "./lib/word.js"; export default { fetch: (): Response => new Response(word) };', "application/typescript")
    client.upload_script("client-paging", "multi", main, modules=[Module("lib/word.js", 'export const word = "multi";')])
    assert client.invoke("client-paging", "multi").text == "multi"
    for index in range(5):
        client.upload_script("client-paging", f"s{index}", "export default { fetch: () => new Response('x') };", tags=["bulk"])

    first = client.list_scripts("client-paging", limit=3)
    assert len(first.items) == 3 and first.cursor
    every = [script.name for script in client.iter_scripts("client-paging")]
    assert len(every) == 7 and len(set(every)) == 7
    assert sorted(script.name for script in client.iter_scripts("client-paging", tags=["bulk"])) == [f"s{i}" for i in range(5)]
    assert sorted(client.delete_scripts("client-paging", tags="bulk")) == [f"s{i}" for i in range(5)]
    assert client.set_tags("client-paging", "raw", ["a"]) == ["a"] and client.get_tags("client-paging", "raw") == ["a"]


def test_versions_deployments_and_rollback(client: Client) -> None:
    client.create_namespace("client-versions")
    first = client.upload_script("client-versions", "app", "export default { fetch: () => new Response('one') };")
    second = client.upload_script("client-versions", "app", "export default { fetch: () => new Response('two') };")
    staged = client.upload_version("client-versions", "app", "export default { fetch: () => new Response('three') };")
    assert staged.percentage is None
    versions = list(client.iter_versions("client-versions", "app"))
    assert [version.id for version in versions] == [staged.id, second.version_id, first.version_id]
    assert client.get_version("client-versions", "app", first.version_id).percentage is None
    assert b"one" in client.get_version_content("client-versions", "app", first.version_id).content

    rolled = client.rollback("client-versions", "app")  # the previous version
    assert rolled.current and rolled.versions[0].version_id == first.version_id
    assert client.invoke("client-versions", "app").text == "one"
    assert client.rollback("client-versions", "app").versions[0].version_id == second.version_id  # and back
    split = client.deploy("client-versions", "app", {second.version_id: 50, staged.id: 50})
    assert sorted(share.percentage for share in split.versions) == [50, 50]
    deployments = client.list_deployments("client-versions", "app").items
    assert deployments[0].id == split.id and deployments[0].current and not deployments[1].current
    client.rollback("client-versions", "app", first.version_id)
    assert client.invoke("client-versions", "app").text == "one"

    with pytest.raises(NotFound) as caught:
        client.rollback("client-versions", "app", "0" * 32)
    assert caught.value.code == "version_not_found"
    client.upload_script("client-versions", "lonely", "export default { fetch: () => new Response('x') };")
    with pytest.raises(IsolaneError) as nothing:
        client.rollback("client-versions", "lonely")
    assert nothing.value.code == "no_previous_version" and nothing.value.status is None


def test_secrets_schedules_and_secret_conflicts(client: Client) -> None:
    client.create_namespace("client-settings")
    code = "export default { fetch: (r, env) => new Response(env.KEY ?? 'none'), scheduled() { console.log('tick'); } };"
    first = client.upload_script("client-settings", "app", code, crons=["*/5 * * * *"])
    change = client.put_secret("client-settings", "app", "KEY", "s3cret")
    assert change.name == "KEY" and change.version_id != first.version_id
    assert [secret.name for secret in client.list_secrets("client-settings", "app")] == ["KEY"]
    assert client.invoke("client-settings", "app").text == "s3cret"
    with pytest.raises(Conflict) as caught:
        client.rollback("client-settings", "app")
    assert caught.value.code == "secrets_changed" and caught.value.status == 409
    assert client.rollback("client-settings", "app", force=True).versions[0].version_id == first.version_id

    assert [schedule.cron for schedule in client.get_schedules("client-settings", "app")] == ["*/5 * * * *"]
    assert [schedule.cron for schedule in client.set_schedules("client-settings", "app", ["0 * * * *"])] == ["0 * * * *"]
    result = client.test_schedule("client-settings", "app")
    assert result.outcome == "ok" and result.cron == "0 * * * *" and [log.message for log in result.logs] == ["tick"]
    assert client.delete_secret("client-settings", "app", "KEY").deleted
    with pytest.raises(BadRequest) as bad:
        client.set_schedules("client-settings", "app", ["not a cron"])
    assert bad.value.code == "invalid_cron"


def test_invocation_records_usage_and_platform_errors(client: Client) -> None:
    client.create_namespace("client-records")
    client.upload_script("client-records", "ok", HELLO)
    client.upload_script("client-records", "bad", THROWS)
    ok = client.invoke("client-records", "ok", method="POST", content="body", headers={"x-test": "1"})
    failed = client.invoke("client-records", "bad")
    error = platform_error(failed)
    assert isinstance(error, ServerError) and error.details["outcome"] == "exception"
    missing = client.invoke("client-records", "nope")
    assert isinstance(platform_error(missing), NotFound)

    records = wait_for_records(client, "client-records", "ok", 1)
    assert records[0].id == ok.headers["x-isolane-invocation"] and records[0].logs[0].message == "hi"
    record = client.get_invocation(failed.headers["x-isolane-invocation"])
    assert record.outcome == "exception" and record.error is not None and record.error.name == "TypeError"
    assert client.list_invocations("client-records", "bad", outcome="exception").items[0].id == record.id
    assert client.list_invocations("client-records", "bad", outcome="ok").items == []
    with pytest.raises(BadRequest) as caught:
        client.list_invocations("client-records", "bad", outcome="nonsense")
    assert caught.value.code == "invalid_outcome"

    usage = client.get_usage("client-records")
    assert usage.totals.invocations >= 2 and usage.totals.errors["exception"] >= 1
    assert {item.script for item in usage.scripts or []} >= {"ok", "bad"}
    assert client.get_usage("client-records", script="ok").scripts is None


def test_kv(client: Client) -> None:
    client.create_namespace("client-kv")
    kv = client.create_kv_namespace("sessions", namespace="client-kv")
    assert kv.namespace == "client-kv" and kv.title == "sessions"
    assert kv.id in [item.id for item in client.iter_kv_namespaces(namespace="client-kv")]
    assert client.get_kv_namespace(kv.id).title == "sessions"
    stored = client.put_kv_value(kv.id, "user/1 ?#%", "ada", metadata={"by": "test"}, expiration_ttl=3600)
    assert stored.name == "user/1 ?#%" and stored.metadata == {"by": "test"} and stored.expiration
    client.put_kv_value(kv.id, "user/2", b"\x00\x01")
    assert client.get_kv_value(kv.id, "user/1 ?#%") == b"ada"
    assert client.get_kv_value(kv.id, "user/2") == b"\x00\x01"
    assert client.get_kv_metadata(kv.id, "user/1 ?#%").metadata == {"by": "test"}
    assert [key.name for key in client.iter_kv_keys(kv.id, prefix="user/")] == ["user/1 ?#%", "user/2"]
    page = client.list_kv_keys(kv.id, limit=1)
    assert len(page.items) == 1 and page.cursor
    client.upload_script("client-kv", "reader", "export default { fetch: async (r, env) => new Response(await env.KV.get('user/2') === null ? 'gone' : 'there') };", kv={"KV": kv.id})
    assert client.invoke("client-kv", "reader").text == "there"
    client.delete_kv_value(kv.id, "user/2")
    assert client.invoke("client-kv", "reader").text == "gone"
    with pytest.raises(NotFound) as caught:
        client.get_kv_value(kv.id, "user/2")
    assert caught.value.code == "key_not_found"
    client.delete_kv_namespace(kv.id)
    with pytest.raises(NotFound):
        client.get_kv_namespace(kv.id)


def test_tokens_and_access_errors(client: Client, server: Server) -> None:
    client.create_namespace("client-tokens")
    created = client.create_token("ci", "namespace:client-tokens", read_only=True)
    assert isinstance(created, CreatedToken) and created.token and created.read_only
    assert created.id in [token.id for token in client.list_tokens()]
    with Client(server.url, created.token) as scoped:
        assert [namespace.name for namespace in scoped.list_namespaces()] == ["client-tokens"]
        with pytest.raises(PermissionDenied) as denied:
            scoped.upload_script("client-tokens", "x", "export default {}")
        assert denied.value.code == "read_only_token"
        with pytest.raises(NotFound):  # another tenant's namespace does not exist for it
            scoped.get_namespace("default")
    client.revoke_token(created.id)
    with Client(server.url, created.token) as revoked, pytest.raises(AuthenticationError) as caught:
        revoked.list_namespaces()
    assert caught.value.status == 401 and caught.value.code == "invalid_token"
    with Client(server.url, None) as anonymous, pytest.raises(AuthenticationError):
        anonymous.list_tokens()


def test_seed_upload_and_execute(client: Client) -> None:
    script_id = client.upload('console.log("Hello, World!"); 40 + 2')
    assert client.upload('console.log("Hello, World!"); 40 + 2') == script_id
    result = client.execute(script_id)
    assert result.result == 42 and result.outcome == "ok" and result.logs[0].message == "Hello, World!"
    with pytest.raises(BadRequest) as caught:
        client.upload("let = ;")
    assert caught.value.code == "syntax_error" and "line" in caught.value.details


def test_rate_limited_carries_retry_after(client: Client) -> None:
    client.create_namespace("client-rate", quotas={"requests_per_second": 0.01, "burst": 1})
    client.upload_script("client-rate", "app", "export default { fetch: () => new Response('x') };")
    assert client.invoke("client-rate", "app").status_code == 200
    error = platform_error(client.invoke("client-rate", "app"))
    assert isinstance(error, RateLimited) and error.code == "rate_limited" and error.retry_after and error.retry_after >= 1


def test_unreachable_server_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with Client(url, "t", timeout=2) as client, pytest.raises(ConnectError) as caught:
        client.list_namespaces()
    assert caught.value.status is None and url in caught.value.message
    monkeypatch.setenv("ISOLANE_URL", "http://example.invalid:1/")
    monkeypatch.setenv("ISOLANE_TOKEN", "from-env")
    with Client() as client:
        assert client.url == "http://example.invalid:1" and client.token == "from-env"
    monkeypatch.delenv("ISOLANE_URL")
    with Client(token="x") as client:
        assert client.url == "http://127.0.0.1:8787" and client.token == "x"


def test_transport_seam_and_non_json_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer t"
        return httpx.Response(502, text="<html>bad gateway</html>")

    with Client("http://isolane.test", "t", transport=httpx.MockTransport(handler)) as client, pytest.raises(ServerError) as caught:
        client.list_namespaces()
    assert caught.value.status == 502 and caught.value.code == "http_error" and "bad gateway" in caught.value.message


def test_service_worker_upload_with_metadata(client: Client) -> None:
    """A service worker (content type application/javascript) goes up as Workers' `body_part`."""
    client.create_namespace("client-sw")
    worker = 'addEventListener("fetch", (event) => event.respondWith(new Response("sw " + new URL(event.request.url).pathname)));'
    uploaded = client.upload_script("client-sw", "sw", Module("sw.js", worker, SERVICE_WORKER_JS), tags=["legacy"])
    assert uploaded.handlers == ["fetch"]
    assert client.get_script("client-sw", "sw").tags == ["legacy"]
    assert client.invoke("client-sw", "sw", "/x").text == "sw /x"


def test_executors_are_typed(client: Client) -> None:
    executors = client.executors()
    assert executors.restarts >= 0 and executors.items
    alive = [executor for executor in executors.items if executor.alive]
    assert alive and all(executor.pid and executor.rss_bytes and executor.rss_bytes > 0 for executor in alive)
