"""The scripts API: uploads (raw and multipart), reading, listing, deleting, bad input."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import MODULE, deploy, invoke, multipart_upload

HELLO = 'export default { fetch() { return new Response("hello v1"); } };'


def test_upload_answers_with_the_version_and_handlers(admin: httpx.Client) -> None:
    response = admin.put("/v1/namespaces/default/scripts/shape", content=HELLO, headers={"content-type": MODULE})
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"namespace", "name", "version_id", "handlers", "created_at", "startup_time_ms"}
    assert (body["namespace"], body["name"], body["handlers"]) == ("default", "shape", ["fetch"])
    assert len(body["version_id"]) == 32 and isinstance(body["startup_time_ms"], int)
    again = admin.put("/v1/namespaces/default/scripts/shape", content=HELLO, headers={"content-type": MODULE})
    assert again.status_code == 200 and again.json()["version_id"] == body["version_id"]


def test_a_new_upload_deploys_a_new_version(server, admin: httpx.Client) -> None:
    first = deploy(admin, "redeploy", HELLO)
    assert invoke(server, "default", "redeploy").text == "hello v1"
    second = deploy(admin, "redeploy", HELLO.replace("v1", "v2"))
    assert second["version_id"] != first["version_id"]
    assert invoke(server, "default", "redeploy").text == "hello v2"


def test_get_list_content_and_delete(server, admin: httpx.Client) -> None:
    admin.put("/v1/namespaces/listing")
    for name in ("b-script", "a-script", "c-script"):
        deploy(admin, name, HELLO, ns="listing")
    listed = admin.get("/v1/namespaces/listing/scripts").json()
    assert [item["name"] for item in listed["items"]] == ["a-script", "b-script", "c-script"] and listed["cursor"] is None
    page = admin.get("/v1/namespaces/listing/scripts", params={"limit": 2}).json()
    assert [item["name"] for item in page["items"]] == ["a-script", "b-script"] and page["cursor"] == "b-script"
    rest = admin.get("/v1/namespaces/listing/scripts", params={"limit": 2, "cursor": page["cursor"]}).json()
    assert [item["name"] for item in rest["items"]] == ["c-script"] and rest["cursor"] is None

    one = admin.get("/v1/namespaces/listing/scripts/a-script").json()
    assert one["handlers"] == ["fetch"] and one["format"] == "module" and one["main_module"] == "worker.js"
    content = admin.get("/v1/namespaces/listing/scripts/a-script/content")
    assert content.text == HELLO and content.headers["content-type"].startswith(MODULE)

    assert admin.delete("/v1/namespaces/listing/scripts/a-script").status_code == 200
    assert admin.get("/v1/namespaces/listing/scripts/a-script").status_code == 404
    assert invoke(server, "listing", "a-script").status_code == 404
    assert admin.delete("/v1/namespaces/listing/scripts/a-script").json()["error"]["code"] == "script_not_found"


def test_multipart_upload_with_several_modules_and_metadata(server, admin: httpx.Client) -> None:
    files = multipart_upload(
        {
            "main.js": ('import { greet } from "./lib/greet.ts";\nimport banner from "./banner.txt";\n'
                        "export default { fetch: (r, env) => new Response(banner + greet(env.WHO) + env.CONF.n) };", MODULE),
            "lib/greet.ts": ("export const greet = (who: string): string => `hello ${who}`;", "application/typescript"),
            "banner.txt": ("** ", "text/plain"),
        },
        {
            "main_module": "main.js",
            "bindings": [{"type": "plain_text", "name": "WHO", "text": "multipart"}, {"type": "json", "name": "CONF", "json": {"n": 7}}],
            "tags": ["beta", "team-a"],
            "compatibility_date": "2026-11-01",
            "usage_model": "standard",
        },
    )
    response = admin.put("/v1/namespaces/default/scripts/multi", files=files)
    assert response.status_code in (200, 201), response.text
    assert invoke(server, "default", "multi").text == "** hello multipart7"
    info = admin.get("/v1/namespaces/default/scripts/multi").json()
    assert info["tags"] == ["beta", "team-a"] and info["compatibility_date"] == "2026-11-01"
    assert {m["name"] for m in info["modules"]} == {"main.js", "lib/greet.ts", "banner.txt"}
    assert info["bindings"] == [{"name": "WHO", "type": "plain_text"}, {"name": "CONF", "type": "json"}]
    content = admin.get("/v1/namespaces/default/scripts/multi/content")
    assert content.headers["content-type"].startswith("multipart/form-data")
    assert b"export const greet" in content.content and b'name="lib/greet.ts"' in content.content


def test_typescript_raw_upload(server, admin: httpx.Client) -> None:
    code = "interface Env {}\nexport default {\n  async fetch(request: Request, env: Env): Promise<Response> {\n    return new Response(`typed ${request.method as string}`);\n  },\n};\n"
    deploy(admin, "typed", code, "application/typescript")
    assert invoke(server, "default", "typed", method="PATCH").text == "typed PATCH"


def test_service_worker_syntax(server, admin: httpx.Client) -> None:
    code = 'addEventListener("fetch", (event) => { event.respondWith(new Response("sw " + new URL(event.request.url).pathname)); });'
    assert deploy(admin, "sw", code, "application/javascript")["handlers"] == ["fetch"]
    assert invoke(server, "default", "sw", "/a/b").text == "sw /a/b"


def _error(response: httpx.Response) -> dict:
    return response.json()["error"]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"", MODULE, 400, "empty_script"),
        (b"   \n", MODULE, 400, "empty_script"),
        (b"export default {\n  fetch() { return 1 + ; }\n};", MODULE, 400, "syntax_error"),
        (b'import x from "./nowhere.js";\nexport default {};', MODULE, 400, "unresolved_import"),
        (b'import x from "/etc/passwd";\nexport default {};', MODULE, 400, "forbidden_import"),
        (b'import x from "../secret.js";\nexport default {};', MODULE, 400, "forbidden_import"),
        (b'import x from "npm:left-pad";\nexport default {};', MODULE, 400, "forbidden_import"),
        (b"addEventListener('fetch', e => {", "application/javascript", 400, "syntax_error"),
        (b"export default {}; throw new Error('boom at startup');", MODULE, 400, "script_startup_failed"),
        (b"while (true) {}\nexport default {};", MODULE, 400, "script_startup_exceeded_limits"),
        (b"\xff\xfe", MODULE, 400, "invalid_encoding"),
        (b"export default {};", "text/html", 415, "unsupported_media_type"),
        (b"export default {};", None, 415, "unsupported_media_type"),
    ],
)
def test_bad_uploads_change_nothing(server, admin: httpx.Client, body: bytes, content_type: str | None, status: int, code: str) -> None:
    deploy(admin, "stable", HELLO)
    headers = {"content-type": content_type} if content_type else {}
    response = admin.put("/v1/namespaces/default/scripts/stable", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert _error(response)["code"] == code
    assert invoke(server, "default", "stable").text == "hello v1"  # the previous version keeps serving


def test_syntax_error_names_module_line_and_column(admin: httpx.Client) -> None:
    response = admin.put("/v1/namespaces/default/scripts/broken", content=b"export default {\n  fetch() { return 1 + ; }\n};", headers={"content-type": MODULE})
    error = _error(response)
    assert (error["module"], error["line"]) == ("worker.js", 2) and error["column"] > 1
    files = multipart_upload({"main.js": ('import "./b.ts";\nexport default {};', MODULE), "b.ts": ("\n\nlet x: = 1;", "application/typescript")}, {"main_module": "main.js"})
    error = _error(admin.put("/v1/namespaces/default/scripts/broken", files=files))
    assert (error["code"], error["module"], error["line"]) == ("syntax_error", "b.ts", 3)


def test_startup_failure_points_at_the_module(admin: httpx.Client) -> None:
    files = multipart_upload(
        {"main.js": ('import "./boot.ts";\nexport default {};', MODULE), "boot.ts": ("const n: number = 1;\n\nthrow new Error(`bad boot ${n}`);", "application/typescript")},
        {"main_module": "main.js"},
    )
    error = _error(admin.put("/v1/namespaces/default/scripts/bootfail", files=files))
    assert error["code"] == "script_startup_failed" and "bad boot 1" in error["message"]
    assert "boot.ts:3" in (error["error"]["stack"] or "")
    # The location leads the message, as a syntax error's does (issue 17, 20).
    assert error["message"].startswith("boot.ts:3:") and (error["module"], error["line"]) == ("boot.ts", 3)


def test_a_module_sent_as_a_classic_script_is_told_which_content_type_to_use(admin: httpx.Client) -> None:
    code = b'import { greet } from "./greet.js";\nexport default { fetch() { return new Response(greet()) } };'
    error = _error(admin.put("/v1/namespaces/default/scripts/not-classic", content=code, headers={"content-type": "application/javascript"}))
    assert error["code"] == "syntax_error"
    assert "looks like an ES module" in error["message"] and "application/javascript+module" in error["message"]
    plain = _error(admin.put("/v1/namespaces/default/scripts/not-classic", content=b"let = ;", headers={"content-type": "application/javascript"}))
    assert "ES module" not in plain["message"]


@pytest.mark.parametrize(
    ("modules", "metadata", "code"),
    [
        ({"main.js": ("export default {};", MODULE)}, None, "missing_metadata"),
        ({"main.js": ("export default {};", MODULE)}, {"main_module": "other.js"}, "main_module_missing"),
        ({"main.js": ("export default {};", MODULE)}, {}, "invalid_metadata"),
        ({"../x.js": ("export default {};", MODULE)}, {"main_module": "../x.js"}, "invalid_module_name"),
        ({"main.js": ("export default {};", MODULE)}, {"main_module": "main.js", "bindings": [{"type": "r2_bucket", "name": "R2", "bucket_name": "x"}]}, "unsupported_binding_type"),
        ({"main.js": ("export default {};", MODULE)}, {"main_module": "main.js", "bindings": [{"type": "plain_text", "name": "A", "text": "1"}, {"type": "plain_text", "name": "A", "text": "2"}]}, "duplicate_binding"),
        ({"main.js": ("export default {};", MODULE)}, {"main_module": "main.js", "tags": [f"t{i}" for i in range(9)]}, "too_many_tags"),
        ({"main.js": ("export default {};", MODULE)}, {"main_module": "main.js", "limits": {"cpu_ms": 10**9}}, "limit_exceeds_maximum"),
        ({"main.js": ("export default {};", MODULE)}, {"main_module": "main.js", "limits": {"cpu": 5}}, "invalid_limit"),
        ({"main.js": ("export default {};", MODULE), "w.wasm": ("\x00asm", "application/wasm")}, {"main_module": "main.js"}, "unsupported_module_type"),
    ],
)
def test_bad_multipart_uploads(admin: httpx.Client, modules: dict, metadata: dict | None, code: str) -> None:
    files = multipart_upload(modules, metadata or {})
    if metadata is None:
        del files["metadata"]
    response = admin.put("/v1/namespaces/default/scripts/badmulti", files=files)
    assert response.status_code == 400, response.text
    assert _error(response)["code"] == code
    assert admin.get("/v1/namespaces/default/scripts/badmulti").status_code == 404


def test_size_limit_and_names(server, admin: httpx.Client) -> None:
    big = b"export default {};//" + b"x" * 300_000
    response = admin.put("/v1/namespaces/default/scripts/big", content=big, headers={"content-type": MODULE})
    assert response.status_code == 413 and _error(response)["code"] == "script_too_large"
    response = admin.put("/v1/namespaces/default/scripts/Bad_Name", content=HELLO, headers={"content-type": MODULE})
    assert response.status_code == 400 and _error(response)["code"] == "invalid_script_name"
    response = admin.put("/v1/namespaces/nowhere/scripts/x", content=HELLO, headers={"content-type": MODULE})
    assert response.status_code == 404 and _error(response)["code"] == "namespace_not_found"


def test_script_without_fetch_handler(server, admin: httpx.Client) -> None:
    assert deploy(admin, "cron-only", "export default { scheduled() {} };")["handlers"] == ["scheduled"]
    response = invoke(server, "default", "cron-only")
    assert response.status_code == 404 and _error(response)["code"] == "no_fetch_handler"


def test_seed_uploads_are_not_workers_scripts(admin: httpx.Client) -> None:
    seed_id = admin.post("/upload", content=b"1 + 1").json()["id"]
    assert admin.get(f"/v1/namespaces/default/scripts/{seed_id}").status_code == 404
    response = admin.put(f"/v1/namespaces/default/scripts/{seed_id}", content=HELLO, headers={"content-type": MODULE})
    assert response.status_code == 409 and _error(response)["code"] == "script_name_taken"


def test_listing_scripts_of_a_namespace_that_does_not_exist_is_404(admin):
    for response in (
        admin.get("/v1/namespaces/never-created/scripts"),
        admin.delete("/v1/namespaces/never-created/scripts", params={"tags": "x"}),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "namespace_not_found"


def test_a_new_version_answers_201_and_the_same_version_200(admin) -> None:
    """201 whenever the upload made a version (a new script or a new version of one), 200
    only when the very same version was stored already (docs/api.md says so)."""
    path = "/v1/namespaces/default/scripts/status-codes"
    headers = {"content-type": "application/javascript+module"}
    first = admin.put(path, content=b'export default { fetch() { return new Response("1") } };', headers=headers)
    second = admin.put(path, content=b'export default { fetch() { return new Response("2") } };', headers=headers)
    again = admin.put(path, content=b'export default { fetch() { return new Response("2") } };', headers=headers)
    assert (first.status_code, second.status_code, again.status_code) == (201, 201, 200), (first.text, second.text, again.text)
    assert again.json()["version_id"] == second.json()["version_id"] != first.json()["version_id"]
