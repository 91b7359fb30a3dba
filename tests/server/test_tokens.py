"""Tokens and namespaces through the API."""

from __future__ import annotations

import httpx


def test_token_lifecycle(server, admin: httpx.Client) -> None:
    created = admin.post("/v1/tokens", json={"name": "ci", "scope": "admin"})
    assert created.status_code == 201
    body = created.json()
    secret = body.pop("token")
    assert secret.startswith("isl_")
    assert set(body) == {"id", "name", "scope", "read_only", "created_at"}
    listed = admin.get("/v1/tokens").json()["items"]
    assert body in listed
    assert all("token" not in item and "secret_hash" not in item for item in listed)
    assert secret not in admin.get("/v1/tokens").text
    with server.client(secret) as client:
        assert client.get("/v1/namespaces").status_code == 200
        assert admin.delete(f"/v1/tokens/{body['id']}").status_code == 200
        assert client.get("/v1/namespaces").status_code == 401
    assert admin.delete(f"/v1/tokens/{body['id']}").status_code == 404


def test_token_secrets_are_stored_hashed(server, admin: httpx.Client) -> None:
    secret = admin.post("/v1/tokens", json={"name": "hashed", "scope": "admin"}).json()["token"]
    assert secret.encode() not in (server.data_dir / "isolane.db").read_bytes()


def test_bad_token_requests(admin: httpx.Client) -> None:
    for body, code in [
        ({"name": "x", "scope": "root"}, "invalid_scope"),
        ({"name": "x", "scope": "namespace:Bad_Name"}, "invalid_namespace_name"),
        ({"name": "", "scope": "admin"}, "invalid_request"),
        ({"scope": "admin"}, "invalid_request"),
        ({"name": "x", "scope": "admin", "extra": 1}, "invalid_request"),
        ({"name": "x", "scope": "admin", "read_only": "maybe"}, "invalid_request"),
    ]:
        response = admin.post("/v1/tokens", json=body)
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] == code, (body, response.text)
    response = admin.post("/v1/tokens", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_request"


def test_a_lone_surrogate_in_a_token_name_is_refused(admin: httpx.Client) -> None:
    # Valid JSON that no database takes: it once reset the connection (an unhandled error).
    response = admin.post("/v1/tokens", content=b'{"name": "\\ud800", "scope": "admin"}', headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_request", response.text
    assert all(token["name"] != "\ud800" for token in admin.get("/v1/tokens").json()["items"])


def test_namespace_token_manages_only_its_own_tokens(server, admin: httpx.Client) -> None:
    admin.put("/v1/namespaces/team-x")
    admin.put("/v1/namespaces/team-y")
    team_x = admin.post("/v1/tokens", json={"name": "x", "scope": "namespace:team-x"}).json()
    team_y = admin.post("/v1/tokens", json={"name": "y", "scope": "namespace:team-y"}).json()
    with server.client(team_x["token"]) as client:
        assert client.post("/v1/tokens", json={"name": "escalate", "scope": "admin"}).status_code == 403
        assert client.post("/v1/tokens", json={"name": "other", "scope": "namespace:team-y"}).status_code == 403
        own = client.post("/v1/tokens", json={"name": "ci", "scope": "namespace:team-x", "read_only": True})
        assert own.status_code == 201
        listed = {item["id"] for item in client.get("/v1/tokens").json()["items"]}
        assert team_x["id"] in listed and team_y["id"] not in listed
        assert client.delete(f"/v1/tokens/{team_y['id']}").status_code == 404
        assert client.delete(f"/v1/tokens/{own.json()['id']}").status_code == 200


def test_namespace_lifecycle(server, admin: httpx.Client) -> None:
    first = admin.put("/v1/namespaces/acme")
    assert first.status_code == 201
    assert first.json()["name"] == "acme"
    assert admin.put("/v1/namespaces/acme").status_code == 200  # idempotent
    assert admin.get("/v1/namespaces/acme").json()["script_count"] == 0
    assert "acme" in [n["name"] for n in admin.get("/v1/namespaces").json()["items"]]
    token = admin.post("/v1/tokens", json={"name": "acme", "scope": "namespace:acme"}).json()["token"]
    assert admin.delete("/v1/namespaces/acme").status_code == 200
    assert admin.get("/v1/namespaces/acme").status_code == 404
    assert admin.delete("/v1/namespaces/acme").status_code == 404
    with server.client(token) as client:  # its tokens went with it
        assert client.get("/v1/namespaces").status_code == 401


def test_default_namespace_exists_and_is_protected(admin: httpx.Client) -> None:
    assert admin.get("/v1/namespaces/default").status_code == 200
    response = admin.delete("/v1/namespaces/default")
    assert response.status_code == 409 and response.json()["error"]["code"] == "namespace_protected"


def test_invalid_namespace_names(admin: httpx.Client) -> None:
    for name in ["UPPER", "-leading", "trailing-", "a" * 64, "under_score", "dot.ted"]:
        response = admin.put(f"/v1/namespaces/{name}")
        assert response.status_code == 400, name
        assert response.json()["error"]["code"] == "invalid_namespace_name"
    assert admin.put("/v1/namespaces/" + "a" * 63).status_code in (200, 201)


def test_a_huge_body_is_refused_before_it_is_read(server, admin: httpx.Client) -> None:
    """Bodies are read by the handler within 64 KiB, after the token check: an anonymous
    client cannot make the server read (or parse) a large body."""
    huge = b'{"name": "' + b"x" * (1 << 20) + b'", "scope": "admin"}'
    response = admin.post("/v1/tokens", content=huge, headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"
    anonymous = httpx.post(f"{server.url}/v1/tokens", content=huge, headers={"content-type": "application/json"})
    assert anonymous.status_code == 401
    kv = admin.post("/v1/kv/namespaces", content=b'{"title": "' + b"y" * (1 << 20) + b'"}', headers={"content-type": "application/json"})
    assert kv.status_code == 413
    assert admin.post("/v1/tokens", json={"name": "fine", "scope": "admin", "read_only": "yes"}).status_code == 400
