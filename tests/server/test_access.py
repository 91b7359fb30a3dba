"""The authorization matrix over every endpoint the server publishes.

The endpoint list comes from the live OpenAPI document, so a new endpoint fails
`test_every_endpoint_is_in_the_matrix` until it is added to EXPECTED here."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN

# (method, path) -> declared access level
EXPECTED = {
    ("GET", "/healthz"): "public",
    ("GET", "/readyz"): "public",
    ("GET", "/metrics"): "admin",
    ("POST", "/v1/tokens"): "token",
    ("GET", "/v1/tokens"): "token",
    ("DELETE", "/v1/tokens/{token_id}"): "token",
    ("GET", "/v1/namespaces"): "token",
    ("PUT", "/v1/namespaces/{ns}"): "admin",
    ("GET", "/v1/namespaces/{ns}"): "namespace",
    ("DELETE", "/v1/namespaces/{ns}"): "admin",
    ("GET", "/v1/namespaces/{ns}/usage"): "namespace",
    ("POST", "/upload"): "seed",
    ("POST", "/execute"): "seed",
    ("GET", "/v1/invocations/{invocation_id}"): "token",
    ("GET", "/v1/namespaces/{ns}/scripts/{name}/invocations"): "namespace",
    ("GET", "/v1/namespaces/{ns}/scripts/{name}/tail"): "namespace",
    ("GET", "/v1/system/executors"): "admin",
    ("PUT", "/v1/namespaces/{ns}/scripts/{name}"): "namespace",
    ("GET", "/v1/namespaces/{ns}/scripts"): "namespace",
    ("GET", "/v1/namespaces/{ns}/scripts/{name}"): "namespace",
    ("GET", "/v1/namespaces/{ns}/scripts/{name}/content"): "namespace",
    ("DELETE", "/v1/namespaces/{ns}/scripts/{name}"): "namespace",
    ("PUT", "/v1/namespaces/{ns}/scripts/{name}/secrets"): "namespace",
    ("GET", "/v1/namespaces/{ns}/scripts/{name}/secrets"): "namespace",
    ("DELETE", "/v1/namespaces/{ns}/scripts/{name}/secrets/{secret}"): "namespace",
    ("DELETE", "/v1/namespaces/{ns}/scripts"): "namespace",
    ("GET", "/v1/namespaces/{ns}/scripts/{name}/schedules"): "namespace",
    ("PUT", "/v1/namespaces/{ns}/scripts/{name}/schedules"): "namespace",
    ("POST", "/v1/namespaces/{ns}/scripts/{name}/schedules/test"): "namespace",
    ("GET", "/v1/namespaces/{ns}/scripts/{name}/tags"): "namespace",
    ("PUT", "/v1/namespaces/{ns}/scripts/{name}/tags"): "namespace",
    ("GET", "/v1/namespaces/{ns}/scripts/{name}/versions"): "namespace",
    ("POST", "/v1/namespaces/{ns}/scripts/{name}/versions"): "namespace",
    ("GET", "/v1/namespaces/{ns}/scripts/{name}/versions/{version_id}"): "namespace",
    ("GET", "/v1/namespaces/{ns}/scripts/{name}/versions/{version_id}/content"): "namespace",
    ("GET", "/v1/namespaces/{ns}/scripts/{name}/deployments"): "namespace",
    ("POST", "/v1/namespaces/{ns}/scripts/{name}/deployments"): "namespace",
    ("POST", "/v1/kv/namespaces"): "token",
    ("GET", "/v1/kv/namespaces"): "token",
    ("GET", "/v1/kv/namespaces/{namespace_id}"): "token",
    ("DELETE", "/v1/kv/namespaces/{namespace_id}"): "token",
    ("GET", "/v1/kv/namespaces/{namespace_id}/keys"): "token",
    ("GET", "/v1/kv/namespaces/{namespace_id}/values/{key}"): "token",
    ("PUT", "/v1/kv/namespaces/{namespace_id}/values/{key}"): "token",
    ("DELETE", "/v1/kv/namespaces/{namespace_id}/values/{key}"): "token",
    ("GET", "/v1/kv/namespaces/{namespace_id}/metadata/{key}"): "token",
    **{
        (method, path): "public"
        for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
        for path in ("/v1/namespaces/{ns}/scripts/{name}/invoke", "/v1/namespaces/{ns}/scripts/{name}/invoke/{path}")
    },
}

PROBE_SCRIPT = "access-probe"
FILL = {
    "{ns}": "someone-else",
    "{name}": PROBE_SCRIPT,
    "{path}": "some/path",
    "{token_id}": "nonexistent",
    "{invocation_id}": "0" * 32,
    "{namespace_id}": "0" * 32,
    "{key}": "some-key",
    "{secret}": "NOPE",
    "{version_id}": "0" * 32,
}


def operations(server) -> list[tuple[str, str, str | None]]:
    spec = httpx.get(f"{server.url}/openapi.json").json()
    found = []
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            found.append((method.upper(), path, operation.get("x-isolane-access")))
    return found


def concrete(path: str, ns: str = "someone-else") -> str:
    for placeholder, value in FILL.items():
        path = path.replace(placeholder, ns if placeholder == "{ns}" else value)
    return path


@pytest.fixture(scope="module", autouse=True)
def probe_script(server) -> None:
    """A script the public invocation endpoints can reach without a token."""
    with server.admin() as admin:
        assert admin.put("/v1/namespaces/someone-else").status_code in (200, 201)
        response = admin.put(
            f"/v1/namespaces/someone-else/scripts/{PROBE_SCRIPT}",
            content=b"export default { fetch: (request) => new Response(request.method) };",
            headers={"content-type": "application/javascript+module"},
        )
        assert response.status_code in (200, 201), response.text
        # A real KV namespace of someone else's, so the KV endpoints are probed on a resource.
        response = admin.post("/v1/kv/namespaces", json={"title": PROBE_SCRIPT, "namespace": "someone-else"})
        if response.status_code == 409:
            listed = admin.get("/v1/kv/namespaces", params={"namespace": "someone-else"}).json()["items"]
            FILL["{namespace_id}"] = next(item["id"] for item in listed if item["title"] == PROBE_SCRIPT)
        else:
            assert response.status_code == 201, response.text
            FILL["{namespace_id}"] = response.json()["id"]


@pytest.fixture(scope="module")
def tenant_tokens(server) -> dict[str, str]:
    with server.admin() as admin:
        assert admin.put("/v1/namespaces/tenant-a").status_code in (200, 201)
        assert admin.put("/v1/namespaces/someone-else").status_code in (200, 201)
        made = {}
        for label, scope, read_only in [
            ("tenant", "namespace:tenant-a", False),
            ("tenant_ro", "namespace:tenant-a", True),
            ("admin_ro", "admin", True),
            ("default_ns", "namespace:default", False),
        ]:
            response = admin.post("/v1/tokens", json={"name": label, "scope": scope, "read_only": read_only})
            assert response.status_code == 201, response.text
            made[label] = response.json()["token"]
        return made


def test_every_endpoint_is_in_the_matrix(server) -> None:
    published = {(method, path): level for method, path, level in operations(server)}
    assert published == EXPECTED


def test_every_endpoint_declares_access(server) -> None:
    assert all(level is not None for _, _, level in operations(server))


def _error_code(response: httpx.Response) -> str:
    return response.json()["error"]["code"]


@pytest.mark.parametrize("operation", sorted(EXPECTED), ids=lambda op: f"{op[0]} {op[1]}")
def test_missing_and_bad_tokens(server, operation) -> None:
    method, path = operation
    if EXPECTED[operation] == "public":
        assert httpx.request(method, server.url + concrete(path)).status_code == 200
        return
    missing = httpx.request(method, server.url + concrete(path))
    assert missing.status_code == 401 and _error_code(missing) == "unauthorized"
    for header in ("Bearer not-a-real-token", "Basic abc", "Bearer"):
        bad = httpx.request(method, server.url + concrete(path), headers={"Authorization": header})
        assert bad.status_code == 401, (header, bad.text)


@pytest.mark.parametrize("operation", sorted(EXPECTED), ids=lambda op: f"{op[0]} {op[1]}")
def test_namespace_token_stays_in_its_namespace(server, tenant_tokens, operation) -> None:
    method, path = operation
    level = EXPECTED[operation]
    response = httpx.request(
        method, server.url + concrete(path), headers={"Authorization": f"Bearer {tenant_tokens['tenant']}"}
    )
    if level == "admin":
        assert response.status_code == 403 and _error_code(response) == "admin_required"
    elif level == "namespace":
        assert response.status_code == 404 and _error_code(response) == "namespace_not_found"
    elif level == "seed":
        assert response.status_code == 403
    else:
        assert response.status_code not in (401, 403), response.text


@pytest.mark.parametrize("operation", sorted(EXPECTED), ids=lambda op: f"{op[0]} {op[1]}")
def test_read_only_tokens_change_nothing(server, tenant_tokens, operation) -> None:
    method, path = operation
    if EXPECTED[operation] == "public" or method == "GET":
        return
    # An admin token covers everything, so read-only is the only reason left to refuse.
    response = httpx.request(method, server.url + concrete(path), headers={"Authorization": f"Bearer {tenant_tokens['admin_ro']}"})
    assert response.status_code == 403 and _error_code(response) == "read_only_token", response.text
    response = httpx.request(
        method, server.url + concrete(path, "tenant-a"), headers={"Authorization": f"Bearer {tenant_tokens['tenant_ro']}"}
    )
    assert response.status_code in (403, 404), response.text


def test_only_admins_set_a_namespaces_limits_and_quotas(server, tenant_tokens) -> None:
    """PUT /v1/namespaces/{ns} with settings stays admin-only, for a token of that very namespace too."""
    body = {"limits": {"cpu_ms": 10_000}, "quotas": {"max_scripts": 10_000}}
    for label, code in (("tenant", "admin_required"), ("tenant_ro", "admin_required"), ("admin_ro", "read_only_token")):
        response = httpx.put(f"{server.url}/v1/namespaces/tenant-a", json=body, headers={"Authorization": f"Bearer {tenant_tokens[label]}"})
        assert response.status_code == 403 and _error_code(response) == code, (label, response.text)
    shown = httpx.get(f"{server.url}/v1/namespaces/tenant-a", headers={"Authorization": f"Bearer {tenant_tokens['tenant_ro']}"}).json()
    assert (shown["limits"], shown["quotas"]) == ({}, {})


def test_read_only_token_can_read(server, tenant_tokens) -> None:
    headers = {"Authorization": f"Bearer {tenant_tokens['tenant_ro']}"}
    assert httpx.get(f"{server.url}/v1/namespaces/tenant-a", headers=headers).status_code == 200
    assert [n["name"] for n in httpx.get(f"{server.url}/v1/namespaces", headers=headers).json()["items"]] == ["tenant-a"]


def test_default_namespace_token_may_use_the_seed_api(server, tenant_tokens) -> None:
    with server.client(tenant_tokens["default_ns"]) as client:
        response = client.post("/upload", content=b"'seeded by a namespace token'")
        assert response.status_code == 201
        assert client.post("/execute", content=response.json()["id"]).json()["result"] == "seeded by a namespace token"


def test_admin_token_from_environment_works(server) -> None:
    assert httpx.get(f"{server.url}/v1/namespaces", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 200
