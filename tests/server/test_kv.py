"""Workers KV over the REST API: KV namespaces, values, expiry, listing with cursors, tenant
isolation (also for bindings at upload) and bad input."""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import multipart_upload

MODULE = "application/javascript+module"
MiB = 1024 * 1024


def _error(response: httpx.Response) -> dict:
    return response.json()["error"]


def _values(kv_id: str, key: str) -> str:
    return f"/v1/kv/namespaces/{kv_id}/values/{quote(key, safe='')}"


@pytest.fixture(scope="module")
def tenants(server) -> dict[str, str]:
    """Tokens for two tenant namespaces."""
    with server.admin() as admin:
        made = {}
        for ns in ("kv-a", "kv-b"):
            assert admin.put(f"/v1/namespaces/{ns}").status_code in (200, 201)
            response = admin.post("/v1/tokens", json={"name": ns, "scope": f"namespace:{ns}"})
            assert response.status_code == 201, response.text
            made[ns] = response.json()["token"]
        return made


@pytest.fixture()
def kv(admin: httpx.Client) -> str:
    """A fresh KV namespace in `default`."""
    response = admin.post("/v1/kv/namespaces", json={"title": f"test {uuid.uuid4().hex}"})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_namespaces_create_list_get_delete(admin: httpx.Client, tenants) -> None:
    created = admin.post("/v1/kv/namespaces", json={"title": "sessions"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["title"], body["namespace"]) == ("sessions", "default") and len(body["id"]) == 32
    in_a = admin.post("/v1/kv/namespaces", params={"namespace": "kv-a"}, json={"title": "sessions"}).json()
    in_b = admin.post("/v1/kv/namespaces", json={"title": "sessions", "namespace": "kv-b"}).json()
    assert (in_a["namespace"], in_b["namespace"]) == ("kv-a", "kv-b")

    # The same title twice in one namespace is a conflict; in another namespace it is not.
    again = admin.post("/v1/kv/namespaces", json={"title": "sessions"})
    assert again.status_code == 409 and _error(again)["code"] == "kv_namespace_title_taken"

    listed = admin.get("/v1/kv/namespaces").json()
    assert set(listed) == {"items", "cursor"}
    ids = {item["id"] for item in listed["items"]}
    assert {body["id"], in_a["id"], in_b["id"]} <= ids
    only_a = admin.get("/v1/kv/namespaces", params={"namespace": "kv-a"}).json()["items"]
    assert {item["namespace"] for item in only_a} == {"kv-a"} and in_a["id"] in {item["id"] for item in only_a}
    assert admin.get(f"/v1/kv/namespaces/{in_a['id']}").json() == in_a

    admin.put(_values(in_a["id"], "k"), content=b"v")
    deleted = admin.delete(f"/v1/kv/namespaces/{in_a['id']}")
    assert deleted.status_code == 200 and deleted.json() == {"id": in_a["id"], "deleted": True}
    for response in (
        admin.get(f"/v1/kv/namespaces/{in_a['id']}"),
        admin.get(_values(in_a["id"], "k")),
        admin.put(_values(in_a["id"], "k"), content=b"v"),
        admin.get(f"/v1/kv/namespaces/{in_a['id']}/keys"),
        admin.delete(f"/v1/kv/namespaces/{in_a['id']}"),
    ):
        assert response.status_code == 404 and _error(response)["code"] == "kv_namespace_not_found", response.text
    # The title is free again.
    assert admin.post("/v1/kv/namespaces", params={"namespace": "kv-a"}, json={"title": "sessions"}).status_code == 201


def test_namespace_list_pages(admin: httpx.Client) -> None:
    admin.put("/v1/namespaces/kv-pages")
    titles = [f"t{i:02}" for i in range(7)]
    for title in titles:
        assert admin.post("/v1/kv/namespaces", json={"title": title, "namespace": "kv-pages"}).status_code == 201
    seen, cursor = [], None
    while True:
        page = admin.get("/v1/kv/namespaces", params={"namespace": "kv-pages", "limit": 3, **({"cursor": cursor} if cursor else {})}).json()
        seen += [item["title"] for item in page["items"]]
        cursor = page["cursor"]
        if cursor is None:
            break
    assert seen == titles


@pytest.mark.parametrize(
    ("body", "params", "status", "code"),
    [
        ({"title": ""}, {}, 400, "invalid_title"),
        ({"title": "   "}, {}, 400, "invalid_title"),
        ({"title": "x" * 256}, {}, 400, "invalid_title"),
        ({"title": "a\nb"}, {}, 400, "invalid_title"),
        ({"title": 5}, {}, 400, "invalid_title"),
        ({}, {}, 400, "invalid_title"),
        ({"title": "x", "other": 1}, {}, 400, "invalid_request"),
        ({"title": "x"}, {"namespace": "no-such-namespace"}, 404, "namespace_not_found"),
    ],
)
def test_bad_namespace_creation(admin: httpx.Client, body, params, status, code) -> None:
    response = admin.post("/v1/kv/namespaces", json=body, params=params)
    assert response.status_code == status and _error(response)["code"] == code, response.text


def test_a_lone_surrogate_in_a_title_is_refused(admin: httpx.Client) -> None:
    # Valid JSON that no database takes: it was a 500.
    response = admin.post("/v1/kv/namespaces", content=b'{"title": "x\\udc00"}', headers={"content-type": "application/json"})
    assert response.status_code == 400 and _error(response)["code"] == "invalid_request", response.text


def test_values_round_trip(admin: httpx.Client, kv: str) -> None:
    every_byte = bytes(range(256)) * 64
    for key, value in [("plain", b"hello"), ("a/b/c", every_byte), ("with space?&#%", b""), ("ключ ✓ 🔑", "значение".encode())]:
        put = admin.put(_values(kv, key), content=value)
        assert put.status_code == 200, put.text
        assert put.json() == {"name": key, "expiration": None, "metadata": None}
        got = admin.get(_values(kv, key))
        assert got.status_code == 200 and got.content == value
        assert got.headers["content-type"] == "application/octet-stream"

    # Metadata and expiration are stored with the value; a rewrite replaces all three.
    later = int(time.time()) + 3600
    put = admin.put(_values(kv, "plain"), content=b"v2", params={"metadata": json.dumps({"owner": "ada", "n": [1, 2]}), "expiration": later})
    assert put.json() == {"name": "plain", "expiration": later, "metadata": {"owner": "ada", "n": [1, 2]}}
    assert admin.get(f"/v1/kv/namespaces/{kv}/metadata/plain").json() == put.json()
    assert admin.get(_values(kv, "plain")).headers["x-isolane-kv-expiration"] == str(later)
    admin.put(_values(kv, "plain"), content=b"v3")
    assert admin.get(f"/v1/kv/namespaces/{kv}/metadata/plain").json() == {"name": "plain", "expiration": None, "metadata": None}
    assert admin.get(_values(kv, "plain")).content == b"v3"

    deleted = admin.delete(_values(kv, "plain"))
    assert deleted.status_code == 200 and deleted.json() == {"name": "plain", "deleted": True}
    missing = admin.get(_values(kv, "plain"))
    assert missing.status_code == 404 and _error(missing)["code"] == "key_not_found"
    assert _error(admin.get(f"/v1/kv/namespaces/{kv}/metadata/plain"))["code"] == "key_not_found"
    assert admin.delete(_values(kv, "plain")).status_code == 200  # deleting a missing key succeeds


def test_expiration(admin: httpx.Client, kv: str) -> None:
    now = int(time.time())
    # In the past: the key is gone at once (and the old value with it).
    admin.put(_values(kv, "old"), content=b"was here")
    assert admin.put(_values(kv, "old"), content=b"x", params={"expiration": now - 10}).status_code == 200
    assert admin.get(_values(kv, "old")).status_code == 404
    # A second from now: there, then gone.
    admin.put(_values(kv, "brief"), content=b"x", params={"expiration": now + 2})
    admin.put(_values(kv, "stays"), content=b"x")
    assert admin.get(_values(kv, "brief")).content == b"x"
    assert [item["name"] for item in admin.get(f"/v1/kv/namespaces/{kv}/keys").json()["items"]] == ["brief", "stays"]
    time.sleep(max(0.0, now + 2 - time.time()) + 0.2)
    assert _error(admin.get(_values(kv, "brief")))["code"] == "key_not_found"
    assert [item["name"] for item in admin.get(f"/v1/kv/namespaces/{kv}/keys").json()["items"]] == ["stays"]
    assert admin.get(f"/v1/kv/namespaces/{kv}/metadata/brief").status_code == 404

    # A TTL counts from now and must be at least 60 s; given both, the TTL wins (as in Cloudflare's API).
    before = int(time.time())
    ttl = admin.put(_values(kv, "ttl"), content=b"x", params={"expiration_ttl": 60}).json()
    assert before + 60 <= ttl["expiration"] <= int(time.time()) + 60
    both = admin.put(_values(kv, "both"), content=b"x", params={"expiration_ttl": 120, "expiration": now - 5}).json()
    assert both["expiration"] >= before + 120
    assert admin.get(_values(kv, "both")).content == b"x"


def test_listing_pages_in_byte_order(admin: httpx.Client, kv: str) -> None:
    keys = [f"user:{i:03}" for i in range(23)] + ["user;", "userz", "a", "Z", "é", "😀", "\uffff", "user:\U0010ffff", "users"]
    for key in keys:
        assert admin.put(_values(kv, key), content=b"v", params={"metadata": json.dumps({"k": key})}).status_code == 200
    admin.put(_values(kv, "user:gone"), content=b"v", params={"expiration": int(time.time()) - 1})
    in_byte_order = sorted(keys, key=lambda key: key.encode("utf-8"))

    def walk(**params) -> tuple[list[str], int]:
        names, pages, cursor = [], 0, None
        while True:
            response = admin.get(f"/v1/kv/namespaces/{kv}/keys", params={**params, **({"cursor": cursor} if cursor else {})})
            assert response.status_code == 200, response.text
            page = response.json()
            names += [item["name"] for item in page["items"]]
            assert all(item["metadata"] == {"k": item["name"]} and item["expiration"] is None for item in page["items"])
            pages += 1
            cursor = page["cursor"]
            if cursor is None:
                return names, pages

    assert walk() == (in_byte_order, 1)
    assert walk(limit=10) == (in_byte_order, 4)
    assert walk(limit=1)[0] == in_byte_order
    with_prefix = [key for key in in_byte_order if key.startswith("user:")]
    assert walk(prefix="user:", limit=7) == (with_prefix, 4)
    assert walk(prefix="user:01")[0] == [f"user:{i:03}" for i in range(10, 20)]
    assert walk(prefix="nothing") == ([], 1)
    assert walk(prefix="\uffff")[0] == ["\uffff"]
    # Exactly one page's worth: the last page has no cursor.
    assert walk(prefix="user:00", limit=10) == ([f"user:{i:03}" for i in range(10)], 1)


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 1001}, {"limit": "ten"}, {"cursor": "***"}, {"cursor": "_w"}],
)
def test_bad_listing(admin: httpx.Client, kv: str, params) -> None:
    response = admin.get(f"/v1/kv/namespaces/{kv}/keys", params=params)
    assert response.status_code == 400 and _error(response)["code"] in ("invalid_limit", "invalid_cursor"), response.text


@pytest.mark.parametrize(
    ("key", "params", "status", "code"),
    [
        ("k" * 513, {}, 400, "key_too_long"),
        ("é" * 257, {}, 400, "key_too_long"),  # 514 bytes of UTF-8
        (".", {}, 400, "invalid_key"),
        ("..", {}, 400, "invalid_key"),
        ("", {}, 400, "invalid_key"),
        ("k", {"metadata": "{not json"}, 400, "invalid_metadata"),
        ("k", {"metadata": json.dumps({"pad": "x" * 1020})}, 400, "metadata_too_large"),
        ("k", {"expiration": "soon"}, 400, "invalid_expiration"),
        ("k", {"expiration": "-5"}, 400, "invalid_expiration"),
        ("k", {"expiration": "0"}, 400, "invalid_expiration"),
        ("k", {"expiration": "1.5"}, 400, "invalid_expiration"),
        ("k", {"expiration_ttl": "59"}, 400, "invalid_expiration_ttl"),
        ("k", {"expiration_ttl": "1e3"}, 400, "invalid_expiration_ttl"),
    ],
    ids=lambda value: value[:8] if isinstance(value, str) else str(value)[:40],
)
def test_bad_values_change_nothing(admin: httpx.Client, kv: str, key, params, status, code) -> None:
    admin.put(_values(kv, "k"), content=b"original")
    path = f"/v1/kv/namespaces/{kv}/values/" + "".join(f"%{b:02X}" for b in key.encode()) if key in (".", "..") else _values(kv, key)
    response = admin.put(path, content=b"new", params=params)
    assert response.status_code == status and _error(response)["code"] == code, response.text
    assert admin.get(_values(kv, "k")).content == b"original"
    assert [item["name"] for item in admin.get(f"/v1/kv/namespaces/{kv}/keys").json()["items"]] == ["k"]


def test_key_and_value_limits(admin: httpx.Client, kv: str) -> None:
    longest = "é" * 256  # 512 bytes of UTF-8
    assert admin.put(_values(kv, longest), content=b"x").status_code == 200
    assert admin.get(_values(kv, longest)).content == b"x"
    assert admin.put(_values(kv, "meta"), content=b"x", params={"metadata": json.dumps("x" * 1022)}).status_code == 200  # 1024 bytes

    largest = bytes(25 * MiB)
    assert admin.put(_values(kv, "large"), content=largest).status_code == 200
    assert admin.get(_values(kv, "large")).content == largest
    too_large = admin.put(_values(kv, "large"), content=largest + b"!")
    assert too_large.status_code == 413 and _error(too_large)["code"] == "value_too_large"

    def chunks():  # no content-length: refused while it streams in
        for _ in range(26):
            yield bytes(MiB)

    streamed = admin.put(_values(kv, "large"), content=chunks())
    assert streamed.status_code == 413 and _error(streamed)["code"] == "value_too_large"
    assert admin.get(_values(kv, "large")).content == largest


def test_namespace_tokens_see_only_their_own(server, admin: httpx.Client, tenants) -> None:
    with server.client(tenants["kv-a"]) as a, server.client(tenants["kv-b"]) as b:
        mine = a.post("/v1/kv/namespaces", json={"title": "private"})
        assert mine.status_code == 201 and mine.json()["namespace"] == "kv-a"
        kv_id = mine.json()["id"]
        assert a.put(_values(kv_id, "secret"), content=b"a's data").status_code == 200
        assert a.get(_values(kv_id, "secret")).content == b"a's data"

        # Another tenant's KV namespace does not exist for b.
        assert kv_id not in {item["id"] for item in b.get("/v1/kv/namespaces").json()["items"]}
        for response in (
            b.get(f"/v1/kv/namespaces/{kv_id}"),
            b.get(f"/v1/kv/namespaces/{kv_id}/keys"),
            b.get(_values(kv_id, "secret")),
            b.get(f"/v1/kv/namespaces/{kv_id}/metadata/secret"),
            b.put(_values(kv_id, "secret"), content=b"b was here"),
            b.delete(_values(kv_id, "secret")),
            b.delete(f"/v1/kv/namespaces/{kv_id}"),
        ):
            assert response.status_code == 404 and _error(response)["code"] == "kv_namespace_not_found", response.text
        assert a.get(_values(kv_id, "secret")).content == b"a's data"

        # b cannot create one in a's namespace, nor list a's.
        response = b.post("/v1/kv/namespaces", json={"title": "intruder", "namespace": "kv-a"})
        assert response.status_code == 404 and _error(response)["code"] == "namespace_not_found"
        response = b.post("/v1/kv/namespaces", params={"namespace": "kv-a"}, json={"title": "intruder"})
        assert response.status_code == 404
        assert b.get("/v1/kv/namespaces", params={"namespace": "kv-a"}).json()["items"] == []
        assert {item["namespace"] for item in a.get("/v1/kv/namespaces").json()["items"]} == {"kv-a"}

        # Admins see and reach everything.
        assert kv_id in {item["id"] for item in admin.get("/v1/kv/namespaces").json()["items"]}
        assert admin.get(_values(kv_id, "secret")).content == b"a's data"

        # Nor can b bind it, whoever uploads the script into b's namespace.
        binding = {"main_module": "main.js", "bindings": [{"type": "kv_namespace", "name": "KV", "namespace_id": kv_id}]}
        for client in (b, admin):
            files = multipart_upload({"main.js": ("export default { fetch() { return new Response('x'); } };", MODULE)}, binding)
            response = client.put("/v1/namespaces/kv-b/scripts/thief", files=files)
            assert response.status_code == 400 and _error(response)["code"] == "kv_namespace_not_found", response.text
            assert response.json()["error"]["binding"] == "KV"
        assert b.get("/v1/namespaces/kv-b/scripts/thief").status_code == 404
        # The owner may.
        files = multipart_upload({"main.js": ("export default { fetch() { return new Response('x'); } };", MODULE)}, binding)
        assert a.put("/v1/namespaces/kv-a/scripts/owner", files=files).status_code == 201


def test_bindings_must_name_an_existing_kv_namespace(admin: httpx.Client) -> None:
    for binding, code in [
        ({"type": "kv_namespace", "name": "KV", "namespace_id": "0" * 32}, "kv_namespace_not_found"),
        ({"type": "kv_namespace", "name": "KV", "namespace_id": "not-an-id"}, "kv_namespace_not_found"),
        ({"type": "kv_namespace", "name": "KV"}, "invalid_binding"),
        ({"type": "kv_namespace", "name": "KV", "namespace_id": 7}, "invalid_binding"),
    ]:
        files = multipart_upload({"main.js": ("export default {};", MODULE)}, {"main_module": "main.js", "bindings": [binding]})
        response = admin.put("/v1/namespaces/default/scripts/unbound", files=files)
        assert response.status_code == 400 and _error(response)["code"] == code, response.text
    assert admin.get("/v1/namespaces/default/scripts/unbound").status_code == 404


def test_deleting_a_tenant_namespace_deletes_its_kv(admin: httpx.Client) -> None:
    admin.put("/v1/namespaces/kv-doomed")
    kv_id = admin.post("/v1/kv/namespaces", json={"title": "t", "namespace": "kv-doomed"}).json()["id"]
    admin.put(_values(kv_id, "k"), content=b"v")
    assert admin.delete("/v1/namespaces/kv-doomed").status_code == 200
    assert admin.get(f"/v1/kv/namespaces/{kv_id}").status_code == 404
