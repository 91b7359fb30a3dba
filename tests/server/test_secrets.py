"""Script secrets: set, list, delete; the script sees them on `env`; Isolane never shows a
value again; encrypted at rest; every change is a new version; the key persists."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import MODULE, deploy, invoke, multipart_upload

NS = "vault"
SHOW_ENV = """
export default {
  fetch(request, env) {
    return Response.json({ key: env.API_KEY ?? null, other: env.OTHER ?? null, type: typeof env.API_KEY });
  },
};
"""
# Uses the secret without ever logging it, returning it, or putting it in an error.
USES_ENV = """
export default {
  async fetch(request, env) {
    console.log("length", String(env.API_KEY).length);
    if (new URL(request.url).pathname === "/throw") throw new Error("boom without the value");
    return new Response("ok " + String(env.API_KEY).length);
  },
};
"""


def secrets_url(script: str, ns: str = NS) -> str:
    return f"/v1/namespaces/{ns}/scripts/{script}/secrets"


def put_secret(client: httpx.Client, script: str, name: str, text: str, ns: str = NS, **extra) -> httpx.Response:
    return client.put(secrets_url(script, ns), json={"name": name, "text": text, "type": "secret_text", **extra})


def version_of(client: httpx.Client, script: str, ns: str = NS) -> str:
    return client.get(f"/v1/namespaces/{ns}/scripts/{script}").json()["version_id"]


def seen(server, script: str, ns: str = NS) -> dict:
    response = invoke(server, ns, script)
    assert response.status_code == 200, response.text
    return response.json()


def sqlite_rows(data_dir: Path, query: str, *params) -> list[tuple]:
    with sqlite3.connect(f"file:{data_dir / 'isolane.db'}?mode=ro", uri=True) as db:
        return db.execute(query, params).fetchall()


def stored_record(client: httpx.Client, record_id: str) -> httpx.Response:
    """An invocation record, once written (records are stored in the background)."""
    deadline = time.monotonic() + 5
    while (response := client.get(f"/v1/invocations/{record_id}")).status_code == 404 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert response.status_code == 200, response.text
    return response


@pytest.fixture(scope="module", autouse=True)
def namespace(server) -> None:
    with server.admin() as admin:
        assert admin.put(f"/v1/namespaces/{NS}").status_code in (200, 201)


def test_set_list_replace_and_delete(server, admin: httpx.Client) -> None:
    deploy(admin, "show", SHOW_ENV, ns=NS)
    assert admin.get(secrets_url("show")).json() == {"items": [], "cursor": None}
    assert seen(server, "show") == {"key": None, "other": None, "type": "undefined"}

    created = put_secret(admin, "show", "API_KEY", "first value")
    assert created.status_code == 201, created.text
    assert set(created.json()) == {"name", "type", "version_id"}
    assert (created.json()["name"], created.json()["type"]) == ("API_KEY", "secret_text")
    assert created.json()["version_id"] == version_of(admin, "show")
    assert seen(server, "show") == {"key": "first value", "other": None, "type": "string"}

    replaced = put_secret(admin, "show", "API_KEY", "second value")
    assert replaced.status_code == 200 and replaced.json()["name"] == "API_KEY"
    assert seen(server, "show")["key"] == "second value"

    assert admin.put(secrets_url("show"), json={"name": "OTHER", "text": ""}).status_code == 201  # type defaults
    assert seen(server, "show") == {"key": "second value", "other": "", "type": "string"}
    listed = admin.get(secrets_url("show")).json()
    assert listed == {"items": [{"name": "API_KEY", "type": "secret_text"}, {"name": "OTHER", "type": "secret_text"}], "cursor": None}
    info = admin.get(f"/v1/namespaces/{NS}/scripts/show").json()
    assert {"name": "API_KEY", "type": "secret_text"} in info["bindings"]

    deleted = admin.delete(secrets_url("show") + "/API_KEY")
    assert deleted.status_code == 200 and deleted.json()["name"] == "API_KEY" and deleted.json()["deleted"] is True
    assert seen(server, "show") == {"key": None, "other": "", "type": "undefined"}
    assert [item["name"] for item in admin.get(secrets_url("show")).json()["items"]] == ["OTHER"]
    again = admin.delete(secrets_url("show") + "/API_KEY")
    assert again.status_code == 404 and again.json()["error"]["code"] == "secret_not_found"


def test_every_change_is_a_new_version_and_old_versions_stay(server, admin: httpx.Client) -> None:
    original = deploy(admin, "versioned", SHOW_ENV, ns=NS)["version_id"]
    ids = [original]
    for value in ("one", "two", "two"):  # the same value again is a change too (a new ciphertext)
        ids.append(put_secret(admin, "versioned", "API_KEY", value).json()["version_id"])
        assert version_of(admin, "versioned") == ids[-1]
        assert seen(server, "versioned")["key"] == value
    assert len(set(ids)) == len(ids)
    stored = dict(sqlite_rows(server.data_dir, "SELECT id, metadata FROM versions WHERE namespace = ? AND script = ?", NS, "versioned"))
    assert set(ids) <= set(stored)
    assert json.loads(stored[original]).get("secrets", []) == []  # the first version is as it was
    assert [s["name"] for s in json.loads(stored[ids[1]])["secrets"]] == ["API_KEY"]

    # Uploading the same code again keeps the secrets (and so the version).
    again = deploy(admin, "versioned", SHOW_ENV, ns=NS)
    assert again["version_id"] == ids[-1] and seen(server, "versioned")["key"] == "two"
    # New code sees the secrets from its first request (its probing isolate included).
    newer = deploy(admin, "versioned", SHOW_ENV.replace("key:", "key2: 1, key:"), ns=NS)
    assert newer["version_id"] not in ids and seen(server, "versioned")["key"] == "two"

    # Without secrets again, the version is the upload's own.
    admin.delete(secrets_url("versioned") + "/API_KEY")
    assert seen(server, "versioned")["key"] is None
    deploy(admin, "versioned", SHOW_ENV, ns=NS)
    assert version_of(admin, "versioned") == original
    rows = sqlite_rows(server.data_dir, "SELECT metadata FROM versions WHERE id = ?", original)
    assert rows == [(stored[original],)]


def test_values_never_appear_in_api_answers_records_or_logs(server, admin: httpx.Client) -> None:
    value = "sk_live_" + os.urandom(12).hex()
    answers: list[httpx.Response] = []
    answers.append(admin.put(f"/v1/namespaces/{NS}/scripts/quiet", content=USES_ENV, headers={"content-type": MODULE}))
    answers.append(put_secret(admin, "quiet", "API_KEY", value))
    answers.append(put_secret(admin, "quiet", "API_KEY", value))
    answers.append(put_secret(admin, "quiet", "api-key", value))  # refused: the name
    answers.append(put_secret(admin, "quiet", "OTHER", value, type="secret_key"))  # refused: the type
    answers.append(put_secret(admin, "missing", "API_KEY", value))  # refused: no script
    answers.append(admin.put(secrets_url("quiet"), content=b'{"name": "X", "text": "' + value.encode() + b'"'))  # bad JSON
    answers.append(put_secret(admin, "quiet", "BIG", value * 200))  # refused: too large
    answers.append(
        admin.put(
            f"/v1/namespaces/{NS}/scripts/quiet",
            files=multipart_upload({"w.js": (USES_ENV, MODULE)}, {"main_module": "w.js", "bindings": [{"type": "plain_text", "name": "API_KEY", "text": "x"}]}),
        )
    )  # refused: the name is a secret's
    for path in ("/scripts/quiet", "/scripts/quiet/content", "/scripts/quiet/secrets", "/scripts", ""):
        answers.append(admin.get(f"/v1/namespaces/{NS}{path}"))
    answers.append(httpx.get(f"{server.url}/openapi.json"))

    ok = invoke(server, NS, "quiet")
    assert ok.status_code == 200 and ok.text == f"ok {len(value)}"
    failed = invoke(server, NS, "quiet", "/throw")
    assert failed.status_code == 500
    answers += [ok, failed]
    for invocation in (ok, failed):
        record = stored_record(admin, invocation.headers["x-isolane-invocation"])
        assert record.json()["logs"][0]["message"] == f"length {len(value)}"
        answers.append(record)

    assert [a.status_code for a in answers[:9]] == [201, 201, 200, 400, 400, 404, 400, 413, 400]
    for answer in answers:
        assert value not in answer.text, answer.request.url
    assert value not in server.log()


def test_encrypted_at_rest(server, admin: httpx.Client) -> None:
    value = "plaintext-" + os.urandom(8).hex()
    deploy(admin, "at-rest", SHOW_ENV, ns=NS)
    assert put_secret(admin, "at-rest", "API_KEY", value).status_code == 201
    assert seen(server, "at-rest")["key"] == value
    [(kind, ciphertext)] = sqlite_rows(server.data_dir, "SELECT type, ciphertext FROM secrets WHERE namespace = ? AND script = ?", NS, "at-rest")
    assert kind == "secret_text" and isinstance(ciphertext, bytes)
    assert value.encode() not in ciphertext and len(ciphertext) >= len(value) + 16
    # Nowhere in the data dir: not in the database, its WAL, the blobs, the key file.
    for path in server.data_dir.rglob("*"):
        if path.is_file():
            assert value.encode() not in path.read_bytes(), path


def test_names_types_sizes_and_conflicts(server, admin: httpx.Client) -> None:
    admin.put(
        f"/v1/namespaces/{NS}/scripts/checked",
        files=multipart_upload({"w.js": (SHOW_ENV, MODULE)}, {"main_module": "w.js", "bindings": [{"type": "plain_text", "name": "GREETING", "text": "hi"}]}),
    ).raise_for_status()

    def code(response: httpx.Response) -> tuple[int, str]:
        return response.status_code, response.json()["error"]["code"]

    assert code(put_secret(admin, "checked", "GREETING", "x")) == (400, "binding_name_conflict")
    for name in ("1abc", "has-dash", "", "a" * 65, None, 7):
        assert code(admin.put(secrets_url("checked"), json={"name": name, "text": "x"})) == (400, "invalid_secret_name"), name
    assert put_secret(admin, "checked", "$ok_" + "a" * 60, "x").status_code == 201  # 64 characters
    assert code(put_secret(admin, "checked", "T", "x", type="plain_text")) == (400, "invalid_secret_type")
    assert code(admin.put(secrets_url("checked"), json={"name": "T", "text": 5})) == (400, "invalid_secret_text")
    assert code(admin.put(secrets_url("checked"), json=["name", "text"])) == (400, "invalid_json")
    assert code(admin.put(secrets_url("checked"), content=b"not json")) == (400, "invalid_json")
    assert put_secret(admin, "checked", "LIMIT", "é" * 2560).status_code == 201  # 5 KiB of UTF-8
    assert code(put_secret(admin, "checked", "LIMIT", "é" * 2560 + "x")) == (413, "secret_too_large")
    assert code(admin.put(secrets_url("checked"), content=b" " * 100_000)) == (413, "secret_too_large")

    assert code(put_secret(admin, "nothing-here", "A", "x")) == (404, "script_not_found")
    assert code(admin.get(secrets_url("nothing-here"))) == (404, "script_not_found")
    assert code(admin.delete(secrets_url("nothing-here") + "/A")) == (404, "script_not_found")
    assert code(admin.delete(secrets_url("checked") + "/NOPE")) == (404, "secret_not_found")
    seed_id = admin.post("/upload", content=b"1").json()["id"]  # a seed upload is no Workers script
    assert code(admin.get(f"/v1/namespaces/default/scripts/{seed_id}/secrets")) == (404, "script_not_found")

    # An upload may not bring a binding named like a secret; nothing changes.
    before = version_of(admin, "checked")
    clash = admin.put(
        f"/v1/namespaces/{NS}/scripts/checked",
        files=multipart_upload({"w.js": (SHOW_ENV, MODULE)}, {"main_module": "w.js", "bindings": [{"type": "json", "name": "LIMIT", "json": 1}]}),
    )
    assert code(clash) == (400, "binding_name_conflict") and version_of(admin, "checked") == before


def test_namespace_tokens_and_read_only_tokens(server, admin: httpx.Client) -> None:
    deploy(admin, "scoped", SHOW_ENV, ns=NS)
    tokens = {}
    for label, scope, read_only in [("rw", f"namespace:{NS}", False), ("ro", f"namespace:{NS}", True), ("other", "namespace:default", False)]:
        tokens[label] = admin.post("/v1/tokens", json={"name": label, "scope": scope, "read_only": read_only}).json()["token"]
    with server.client(tokens["rw"]) as client:
        assert put_secret(client, "scoped", "API_KEY", "tenant set").status_code == 201
        assert client.get(secrets_url("scoped")).json()["items"] == [{"name": "API_KEY", "type": "secret_text"}]
    with server.client(tokens["ro"]) as client:
        assert client.get(secrets_url("scoped")).status_code == 200
        refused = put_secret(client, "scoped", "API_KEY", "read-only")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "read_only_token"
        assert client.delete(secrets_url("scoped") + "/API_KEY").status_code == 403
    with server.client(tokens["other"]) as client:
        hidden = client.get(secrets_url("scoped"))
        assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "namespace_not_found"
        assert put_secret(client, "scoped", "API_KEY", "intruder").status_code == 404
    assert seen(server, "scoped")["key"] == "tenant set"


# ---- the key

LIGHT = ("--executors", "1", "--spare-isolates", "1")


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_generated_key_is_kept_in_the_data_dir_and_reused(make_server, tmp_path) -> None:
    data = tmp_path / "kept"
    first = make_server(*LIGHT, data_dir=data)
    key_file = data / "secrets.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_bytes()
    assert len(base64.b64decode(key.strip())) == 32
    with first.admin() as admin:
        deploy(admin, "keeper", SHOW_ENV)
        assert put_secret(admin, "keeper", "API_KEY", "survives", ns="default").status_code == 201
    first.stop()

    second = make_server(*LIGHT, data_dir=data)
    assert key_file.read_bytes() == key
    assert seen(second, "keeper", "default")["key"] == "survives"


def test_configured_key_and_a_wrong_key_at_startup(make_server, tmp_path) -> None:
    data, key = tmp_path / "configured", new_key()
    first = make_server(*LIGHT, "--secrets-key", key, data_dir=data)
    assert not (data / "secrets.key").exists()
    with first.admin() as admin:
        deploy(admin, "keyed", SHOW_ENV)
        put_secret(admin, "keyed", "API_KEY", "under a configured key", ns="default").raise_for_status()
    first.stop()

    with pytest.raises(RuntimeError) as refused:
        make_server(*LIGHT, "--secrets-key", new_key(), data_dir=data)
    assert "stored secrets were encrypted with another secrets key" in str(refused.value)
    with pytest.raises(RuntimeError) as refused:  # the generated key is another key too
        make_server(*LIGHT, data_dir=data)
    assert "--secrets-key" in str(refused.value)

    again = make_server(*LIGHT, "--secrets-key", key, data_dir=data)
    assert seen(again, "keyed", "default")["key"] == "under a configured key"


def test_malformed_key_is_refused_without_echoing_it(tmp_path) -> None:
    for bad in ("not base64!", base64.b64encode(b"short").decode()):
        result = subprocess.run(
            [sys.executable, "-m", "isolane", "serve", "--data-dir", str(tmp_path / "x")],
            capture_output=True,
            text=True,
            timeout=60,
            env={k: v for k, v in os.environ.items() if not k.startswith("ISOLANE_")} | {"ISOLANE_SECRETS_KEY": bad, "COLUMNS": "300"},
        )
        assert result.returncode != 0
        assert "secrets key must be base64" in result.stderr and bad not in result.stderr


def test_servers_sharing_a_database_share_the_key(make_server, tmp_path) -> None:
    data = tmp_path / "shared"
    first = make_server(*LIGHT, data_dir=data)
    second = make_server(*LIGHT, data_dir=data)  # reads the key file the first one wrote
    stranger = make_server(*LIGHT, "--secrets-key", new_key(), data_dir=data)  # no secrets yet: starts
    with first.admin() as admin:
        deploy(admin, "shared", SHOW_ENV)
        put_secret(admin, "shared", "API_KEY", "shared-value-1", ns="default").raise_for_status()
        assert seen(second, "shared", "default")["key"] == "shared-value-1"
        put_secret(admin, "shared", "API_KEY", "shared-value-2", ns="default").raise_for_status()
    # The other server drops its cached deployment within a second: never the old value after.
    deadline = time.monotonic() + 5
    while seen(second, "shared", "default")["key"] != "shared-value-2":
        assert time.monotonic() < deadline

    failed = invoke(stranger, "default", "shared")
    assert failed.status_code == 500 and failed.json()["error"]["code"] == "secrets_key_mismatch"
    assert "ISOLANE_SECRETS_KEY" in failed.json()["error"]["message"] and "shared-value" not in failed.text
    with stranger.admin() as admin:
        mixed = put_secret(admin, "shared", "OTHER", "would be unreadable", ns="default")
        assert mixed.status_code == 500 and mixed.json()["error"]["code"] == "secrets_key_mismatch"
        assert admin.get(secrets_url("shared", "default")).json()["items"] == [{"name": "API_KEY", "type": "secret_text"}]


def test_a_body_its_model_refuses_changes_nothing(admin: httpx.Client) -> None:
    """SecretPut validates the body: a field it does not know (which the platform alone would
    have ignored) is a 400 naming it, and no secret or version comes of it."""
    deploy(admin, "modeled", SHOW_ENV, ns=NS)
    before = version_of(admin, "modeled")
    response = put_secret(admin, "modeled", "API_KEY", "s3cret", expires="tomorrow")
    assert response.status_code == 400 and response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and error["message"].startswith("expires:"), error
    assert "s3cret" not in response.text
    assert admin.get(secrets_url("modeled")).json()["items"] == []
    assert version_of(admin, "modeled") == before
