"""Server logs: JSON lines with request ids, an access line per request, and nothing a
tenant or client sent that could be secret (bodies, query strings, tokens, secret values)."""

from __future__ import annotations

import json
import re
import time

import httpx

from tests.conftest import ADMIN_TOKEN, deploy, invoke

SECRET_VALUE = "s3cret-value-never-logged-81723"
BODY_TEXT = "body-text-never-logged-55120"
QUERY_TEXT = "query-text-never-logged-90311"


def log_lines(server, needle: str, timeout: float = 5.0) -> list[dict]:
    """The server's JSON log lines, once one contains `needle` (lines are written after
    the response is sent)."""
    deadline = time.monotonic() + timeout
    while True:
        text = server.log()
        if needle in text or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_request_ids_and_access_lines(make_server):
    instance = make_server()
    given = httpx.get(f"{instance.url}/healthz", headers={"x-request-id": "trace-42.a:b"})
    assert given.headers["x-request-id"] == "trace-42.a:b"
    made = httpx.get(f"{instance.url}/healthz", headers={"x-request-id": "not ok, spaces\"<>"})
    assert re.fullmatch(r"[0-9a-f]{16}", made.headers["x-request-id"])
    missing = httpx.get(f"{instance.url}/v1/namespaces?{QUERY_TEXT}=1", headers={"Authorization": "Bearer nope"})
    assert missing.status_code == 401

    lines = log_lines(instance, missing.headers["x-request-id"])
    by_id = {line.get("request_id"): line for line in lines if line.get("logger") == "isolane.access"}
    assert by_id["trace-42.a:b"] | {"time": None, "duration_ms": None} == {
        "level": "INFO",
        "logger": "isolane.access",
        "message": "request",
        "method": "GET",
        "path": "/healthz",
        "status": 200,
        "request_id": "trace-42.a:b",
        "time": None,
        "duration_ms": None,
    }
    assert by_id[made.headers["x-request-id"]]["status"] == 200
    assert by_id[missing.headers["x-request-id"]]["path"] == "/v1/namespaces"  # no query string
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)


def test_invocations_are_logged_by_record_not_by_path(make_server):
    instance = make_server("--log-level", "debug")
    with instance.admin() as admin:
        deploy(admin, "logged", "export default { fetch: (r) => new Response(new URL(r.url).search) };")
        response = invoke(instance, "default", "logged", f"/private/path?{QUERY_TEXT}=1")
        assert response.status_code == 200
        record = response.headers["x-isolane-invocation"]
        lines = log_lines(instance, record)
    (line,) = [line for line in lines if line.get("invocation") == record]
    assert line["status"] == 200 and line["method"] == "GET" and line["script"] == "default/logged"
    assert line["level"] == "DEBUG" and "path" not in line
    assert line["request_id"] == response.headers["x-request-id"]
    # Without a record (no such script), at INFO, and still without the tenant's path.
    missing = invoke(instance, "default", "nobody-here", f"/x?{QUERY_TEXT}")
    assert missing.status_code == 404
    (line,) = [line for line in log_lines(instance, missing.headers["x-request-id"]) if line.get("request_id") == missing.headers["x-request-id"]]
    assert line["level"] == "INFO" and line["script"] == "default/nobody-here" and line["status"] == 404
    assert QUERY_TEXT not in instance.log()


def test_secrets_tokens_and_bodies_stay_out_of_the_logs(make_server):
    instance = make_server("--log-level", "debug")
    with instance.admin() as admin:
        deploy(admin, "secretive", "export default { fetch: async (r, env) => new Response(await r.text()) };")
        put = admin.put(
            "/v1/namespaces/default/scripts/secretive/secrets",
            json={"name": "API_KEY", "text": SECRET_VALUE, "type": "secret_text"},
        )
        assert put.status_code in (200, 201), put.text
        created = admin.post("/v1/tokens", json={"name": "logged", "scope": "namespace:default"})
        assert created.status_code == 201
        token = created.json()["token"]
        assert invoke(instance, "default", "secretive", "/", method="POST", content=BODY_TEXT).text == BODY_TEXT
        admin.post("/upload", content=f"'{BODY_TEXT}'".encode())
        needle = admin.get("/healthz").headers["x-request-id"]
    text = "\n".join(json.dumps(line) for line in log_lines(instance, needle))
    assert needle in text
    for secret in (SECRET_VALUE, BODY_TEXT, QUERY_TEXT, ADMIN_TOKEN, token):
        assert secret not in instance.log(), secret


def test_readable_format(make_server):
    instance = make_server("--log-format", "text")
    rid = httpx.get(f"{instance.url}/healthz").headers["x-request-id"]
    deadline = time.monotonic() + 5
    while rid not in instance.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    (line,) = [line for line in instance.log().splitlines() if f"request_id={rid}" in line]
    assert "request" in line and "path=/healthz" in line and "status=200" in line
    assert not line.lstrip().startswith("{")


def test_readable_lines_cannot_be_forged_through_a_path(make_server):
    instance = make_server("--log-format", "text")
    response = httpx.get(f"{instance.url}/nowhere%0a12:00:00 INFO forged: admin logged in")
    assert response.status_code == 404
    rid = response.headers["x-request-id"]
    deadline = time.monotonic() + 5
    while rid not in instance.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    (line,) = [line for line in instance.log().splitlines() if rid in line]
    assert "path='/nowhere\\n12:00:00 INFO forged: admin logged in'" in line
    assert not any(line.startswith("12:00:00 INFO forged") for line in instance.log().splitlines())
