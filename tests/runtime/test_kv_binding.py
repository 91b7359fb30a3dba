"""Workers KV from a script: `env.KV` of a `kv_namespace` binding, end to end through a
fetch handler, and the same data through the REST API both ways."""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import invoke, multipart_upload

MODULE = "application/javascript+module"

# The handler runs the request body as the body of an async function with `env` in scope,
# and answers its result as JSON (or the error it threw, by name and message).
RUNNER = """
export default {
  async fetch(request, env) {
    const body = await request.text();
    const AsyncFunction = (async () => {}).constructor;
    try {
      const result = await new AsyncFunction("env", body)(env);
      return Response.json({ ok: true, result: result === undefined ? null : result });
    } catch (err) {
      return Response.json({ ok: false, name: err.name, message: err.message, isTypeError: err instanceof TypeError });
    }
  },
};
"""


def _deploy(admin: httpx.Client, ns: str, name: str, bindings: list[dict]) -> None:
    files = multipart_upload({"main.js": (RUNNER, MODULE)}, {"main_module": "main.js", "bindings": bindings})
    response = admin.put(f"/v1/namespaces/{ns}/scripts/{name}", files=files)
    assert response.status_code in (200, 201), response.text


@pytest.fixture(scope="module")
def kv_id(server) -> str:
    with server.admin() as admin:
        assert admin.put("/v1/namespaces/kvbind").status_code in (200, 201)
        response = admin.post("/v1/kv/namespaces", json={"title": f"binding {uuid.uuid4().hex}", "namespace": "kvbind"})
        assert response.status_code == 201, response.text
        kv_id = response.json()["id"]
        _deploy(admin, "kvbind", "runner", [{"type": "kv_namespace", "name": "KV", "namespace_id": kv_id}, {"type": "plain_text", "name": "GREETING", "text": "hi"}])
        return kv_id


@pytest.fixture()
def run(server, kv_id):
    """Run a snippet (the body of an async function of `env`) in the bound script."""

    def call(snippet: str, script: str = "runner") -> dict:
        response = invoke(server, "kvbind", script, method="POST", content=snippet.encode())
        assert response.status_code == 200, response.text
        return response.json()

    return call


def ok(result: dict):
    assert result["ok"], result
    return result["result"]


def _values(kv_id: str, key: str) -> str:
    return f"/v1/kv/namespaces/{kv_id}/values/{quote(key, safe='')}"


def test_binding_is_a_kv_namespace(run) -> None:
    assert ok(run("return [Object.prototype.toString.call(env.KV), typeof env.KV.get, env.GREETING, Object.isFrozen(env)];")) == [
        "[object KVNamespace]",
        "function",
        "hi",
        True,
    ]
    assert ok(run("try { new env.KV.constructor(); } catch (e) { return e instanceof TypeError; }")) is True


def test_put_and_get_every_type(run) -> None:
    result = ok(
        run(
            """
            await env.KV.put("t:text", "héllo ✓");
            await env.KV.put("t:json", JSON.stringify({ a: [1, 2], b: "c" }));
            await env.KV.put("t:buffer", new Uint8Array([0, 1, 254, 255]).buffer);
            await env.KV.put("t:view", new Uint16Array([1, 65535]));
            await env.KV.put("t:dataview", new DataView(new Uint8Array([9, 8, 7, 6]).buffer, 1, 2));
            const parts = ["str", "eam"].map((s) => new TextEncoder().encode(s));
            await env.KV.put("t:stream", new ReadableStream({ pull(c) { parts.length ? c.enqueue(parts.shift()) : c.close(); } }));
            await env.KV.put("t:empty", "");
            const stream = await env.KV.get("t:stream", "stream");
            const bytes = (buffer) => [...new Uint8Array(buffer)];
            return {
              text: await env.KV.get("t:text"),
              textType: await env.KV.get("t:text", "text"),
              textOption: await env.KV.get("t:text", { type: "text", cacheTtl: 60 }),
              json: await env.KV.get("t:json", "json"),
              jsonOption: await env.KV.get("t:json", { type: "json" }),
              buffer: bytes(await env.KV.get("t:buffer", "arrayBuffer")),
              isBuffer: (await env.KV.get("t:buffer", { type: "arrayBuffer" })) instanceof ArrayBuffer,
              view: bytes(await env.KV.get("t:view", "arrayBuffer")),
              dataview: bytes(await env.KV.get("t:dataview", "arrayBuffer")),
              isStream: stream instanceof ReadableStream,
              stream: await new Response(stream).text(),
              textOfBytes: await env.KV.get("t:buffer", "text") === new TextDecoder().decode(new Uint8Array([0, 1, 254, 255])),
              empty: await env.KV.get("t:empty"),
              missing: [await env.KV.get("t:none"), await env.KV.get("t:none", "json"), await env.KV.get("t:none", "stream")],
            };
            """
        )
    )
    assert result == {
        "text": "héllo ✓",
        "textType": "héllo ✓",
        "textOption": "héllo ✓",
        "json": {"a": [1, 2], "b": "c"},
        "jsonOption": {"a": [1, 2], "b": "c"},
        "buffer": [0, 1, 254, 255],
        "isBuffer": True,
        "view": [1, 0, 255, 255],
        "dataview": [8, 7],
        "isStream": True,
        "stream": "stream",
        "textOfBytes": True,
        "empty": "",
        "missing": [None, None, None],
    }


def test_put_takes_a_snapshot_of_buffers(run) -> None:
    assert ok(
        run(
            """
            const bytes = new Uint8Array([1, 2, 3]);
            const written = env.KV.put("snap", bytes);
            bytes[0] = 99;
            await written;
            return [...new Uint8Array(await env.KV.get("snap", "arrayBuffer"))];
            """
        )
    ) == [1, 2, 3]


def test_metadata_and_expiration(run) -> None:
    now = int(time.time())
    result = ok(
        run(
            f"""
            await env.KV.put("m:with", "v", {{ metadata: {{ owner: "ada", tags: ["x"] }}, expiration: {now + 3600} }});
            await env.KV.put("m:without", "v");
            await env.KV.put("m:ttl", "v", {{ expirationTtl: 120 }});
            await env.KV.put("m:past", "v", {{ expiration: {now - 5} }});
            const listed = await env.KV.list({{ prefix: "m:" }});
            return {{
              with: await env.KV.getWithMetadata("m:with"),
              json: await env.KV.getWithMetadata("m:with", {{ type: "json" }}).catch((e) => e.name),
              without: await env.KV.getWithMetadata("m:without"),
              missing: await env.KV.getWithMetadata("m:none"),
              past: await env.KV.get("m:past"),
              listed,
            }};
            """
        )
    )
    assert result["with"] == {"value": "v", "metadata": {"owner": "ada", "tags": ["x"]}, "cacheStatus": None}
    assert result["json"] == "SyntaxError"  # "v" is not JSON
    assert result["without"] == {"value": "v", "metadata": None, "cacheStatus": None}
    assert result["missing"] == {"value": None, "metadata": None, "cacheStatus": None}
    assert result["past"] is None
    keys = result["listed"]["keys"]
    assert [key["name"] for key in keys] == ["m:ttl", "m:with", "m:without"]
    assert keys[1] == {"name": "m:with", "expiration": now + 3600, "metadata": {"owner": "ada", "tags": ["x"]}}
    assert keys[2] == {"name": "m:without"}  # no expiration or metadata: the fields are absent
    assert now + 120 <= keys[0]["expiration"] <= int(time.time()) + 120 and "metadata" not in keys[0]
    assert result["listed"]["list_complete"] is True and "cursor" not in result["listed"]


def test_list_pages_and_delete(run) -> None:
    result = ok(
        run(
            """
            for (let i = 0; i < 12; i++) await env.KV.put(`l:${String(i).padStart(2, "0")}`, String(i));
            await env.KV.put("l:é", "x");
            await env.KV.put("l:Z", "x");
            const pages = [];
            let cursor;
            for (;;) {
              const page = await env.KV.list({ prefix: "l:", limit: 5, cursor });
              pages.push({ names: page.keys.map((k) => k.name), complete: page.list_complete, hasCursor: typeof page.cursor === "string" });
              if (page.list_complete) break;
              cursor = page.cursor;
            }
            await env.KV.delete("l:05");
            await env.KV.delete("l:never-was");
            const after = await env.KV.list({ prefix: "l:0" });
            return { pages, afterDelete: after.keys.map((k) => k.name), gone: await env.KV.get("l:05") };
            """
        )
    )
    names = [f"l:{i:02}" for i in range(12)] + ["l:Z", "l:é"]
    assert result["pages"] == [
        {"names": names[0:5], "complete": False, "hasCursor": True},
        {"names": names[5:10], "complete": False, "hasCursor": True},
        {"names": names[10:], "complete": True, "hasCursor": False},
    ]
    assert result["afterDelete"] == [f"l:0{i}" for i in range(10) if i != 5]
    assert result["gone"] is None


def test_rest_and_script_see_the_same_data(server, admin: httpx.Client, run, kv_id: str) -> None:
    # Written through the REST API, read by the script.
    payload = bytes(range(256))
    admin.put(_values(kv_id, "from-rest"), content=payload, params={"metadata": json.dumps({"via": "rest"})})
    admin.put(_values(kv_id, "from-rest-text"), content="ünïcode".encode())
    result = ok(
        run(
            """
            const { value, metadata } = await env.KV.getWithMetadata("from-rest", "arrayBuffer");
            return { bytes: [...new Uint8Array(value)], metadata, text: await env.KV.get("from-rest-text") };
            """
        )
    )
    assert result == {"bytes": list(payload), "metadata": {"via": "rest"}, "text": "ünïcode"}

    # Written by the script, read through the REST API.
    ok(
        run(
            """
            await env.KV.put("from-script", new Uint8Array([0, 128, 255]), { metadata: { via: "script" } });
            await env.KV.put("from-script-big", "x".repeat(1024 * 1024));
            """
        )
    )
    assert admin.get(_values(kv_id, "from-script")).content == bytes([0, 128, 255])
    assert admin.get(f"/v1/kv/namespaces/{kv_id}/metadata/from-script").json() == {"name": "from-script", "expiration": None, "metadata": {"via": "script"}}
    assert admin.get(_values(kv_id, "from-script-big")).content == b"x" * (1024 * 1024)
    ok(run('await env.KV.delete("from-rest");'))
    assert admin.get(_values(kv_id, "from-rest")).status_code == 404


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ('await env.KV.get("k", "blob");', 'unknown type "blob"'),
        ('await env.KV.get("k", { type: "xml" });', 'unknown type "xml"'),
        ("await env.KV.get();", "1 argument required"),
        ('await env.KV.get(["a", "b"]);', "several keys"),
        ('await env.KV.put("k");', "2 arguments required"),
        ('await env.KV.put("k", 42);', "must be a string, an ArrayBuffer"),
        ('await env.KV.put("k", { a: 1 });', "must be a string, an ArrayBuffer"),
        ('await env.KV.put("", "v");', "cannot be empty"),
        ('await env.KV.put("..", "v");', "cannot be empty, '.' or '..'"),
        ('await env.KV.get("k".repeat(513));', "over the limit of 512"),
        ('await env.KV.delete("é".repeat(257));', "over the limit of 512"),
        ('await env.KV.put("k", "v", { expirationTtl: 30 });', "expirationTtl must be at least 60 seconds"),
        ('await env.KV.put("k", "v", { expiration: -1 });', "expiration must be a positive"),
        ('await env.KV.put("k", "v", { expiration: "soon" });', "expiration must be a number"),
        ('await env.KV.put("k", "v", { expiration: 1.5 });', "expiration must be an integer"),
        ('await env.KV.put("k", "v", { metadata: { pad: "x".repeat(1100) } });', "over the limit of 1024"),
        ('await env.KV.put("k", "v", { metadata: () => 1 });', "serializable as JSON"),
        ('await env.KV.put("k", "v", 5);', "options is not an object"),
        ("await env.KV.list({ limit: 0 });", "limit must be between 1 and 1000"),
        ("await env.KV.list({ limit: 1001 });", "limit must be between 1 and 1000"),
        ('await env.KV.list({ limit: "many" });', "limit must be a number between 1 and 1000"),
        ("await env.KV.list({ limit: 2.5 });", "limit must be an integer"),
        ('await env.KV.list({ prefix: "x", cursor: 5 });', "invalid cursor"),
        ('await env.KV.list({ cursor: "!!" });', "invalid cursor"),
        ('await env.KV.put("k", new ReadableStream({ start(c) { c.enqueue("text"); c.close(); } }));', "Uint8Array chunks"),
    ],
)
def test_bad_calls_are_type_errors(run, snippet: str, message: str) -> None:
    ok(run('await env.KV.put("k", "unchanged");'))
    result = run(snippet)
    assert not result["ok"] and result["isTypeError"], result
    assert message in result["message"], result
    assert ok(run('return await env.KV.get("k");')) == "unchanged"


def test_value_size_limit(run) -> None:
    ok(run('await env.KV.put("big", "before");'))
    result = run('await env.KV.put("big", new Uint8Array(25 * 1024 * 1024 + 1));')
    assert not result["ok"] and result["isTypeError"] and "over the limit of 26214400 bytes" in result["message"], result
    streamed = run(
        """
        let sent = 0;
        const chunk = new Uint8Array(1024 * 1024);
        await env.KV.put("big", new ReadableStream({ pull(c) { sent++ < 30 ? c.enqueue(chunk) : c.close(); } }));
        """
    )
    assert not streamed["ok"] and "over the limit" in streamed["message"], streamed
    assert ok(run('return await env.KV.get("big");')) == "before"


def test_other_tenants_and_deleted_namespaces(server, admin: httpx.Client, kv_id: str) -> None:
    # A script in another namespace cannot reach this KV namespace by any binding.
    admin.put("/v1/namespaces/kvbind-other")
    files = multipart_upload({"main.js": (RUNNER, MODULE)}, {"main_module": "main.js", "bindings": [{"type": "kv_namespace", "name": "KV", "namespace_id": kv_id}]})
    response = admin.put("/v1/namespaces/kvbind-other/scripts/runner", files=files)
    assert response.status_code == 400 and response.json()["error"]["code"] == "kv_namespace_not_found"

    # A binding whose KV namespace is deleted later: each call rejects with a clear Error.
    doomed = admin.post("/v1/kv/namespaces", json={"title": f"doomed {uuid.uuid4().hex}", "namespace": "kvbind"}).json()["id"]
    _deploy(admin, "kvbind", "orphan", [{"type": "kv_namespace", "name": "KV", "namespace_id": doomed}])
    admin.put(_values(doomed, "k"), content=b"v")
    assert invoke(server, "kvbind", "orphan", method="POST", content=b'return await env.KV.get("k");').json() == {"ok": True, "result": "v"}
    assert admin.delete(f"/v1/kv/namespaces/{doomed}").status_code == 200
    result = invoke(server, "kvbind", "orphan", method="POST", content=b'return await env.KV.get("k");').json()
    assert not result["ok"] and result["name"] == "Error" and "no longer exists" in result["message"], result


def test_scripts_without_the_binding_have_no_kv(server, admin: httpx.Client) -> None:
    _deploy(admin, "kvbind", "unbound", [])
    assert invoke(server, "kvbind", "unbound", method="POST", content=b"return typeof env.KV;").json() == {"ok": True, "result": "undefined"}
