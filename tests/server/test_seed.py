"""The seed contract end to end: POST /upload, POST /execute."""

from __future__ import annotations

import httpx

from tests.conftest import execute, run_js, upload


def test_hello_world(admin: httpx.Client) -> None:
    body = run_js(admin, 'console.log("Hello, World!")')
    assert body["outcome"] == "ok"
    assert body["result"] is None
    assert [(e["level"], e["message"]) for e in body["logs"]] == [("log", "Hello, World!")]
    assert isinstance(body["logs"][0]["time"], int)
    assert body["error"] is None
    assert body["cpu_ms"] >= 0 and body["wall_ms"] >= 0


def test_completion_value_is_the_result(admin: httpx.Client) -> None:
    assert run_js(admin, "const a = 40; a + 2")["result"] == 42
    assert run_js(admin, "({list: [1, 'two', null], nested: {ok: true}})")["result"] == {"list": [1, "two", None], "nested": {"ok": True}}
    assert run_js(admin, "'text'")["result"] == "text"
    assert run_js(admin, "undefined")["result"] is None
    assert run_js(admin, "10n")["result"] == "10"  # not JSON: falls back to its string


def test_promise_result_is_awaited(admin: httpx.Client) -> None:
    body = run_js(admin, "(async () => { await new Promise(r => setTimeout(r, 20)); return 'later' })()")
    assert body["outcome"] == "ok"
    assert body["result"] == "later"


def test_same_code_same_id_and_path(admin: httpx.Client, server) -> None:
    code = "1 + 1 // same-code"
    first, second = upload(admin, code), upload(admin, code)
    assert first == second
    other = upload(admin, code + " ")
    assert other != first
    body = execute(admin, first)
    assert body["id"] == first
    assert (server.data_dir / body["path"]).read_text() == code


def test_execute_accepts_json_body(admin: httpx.Client) -> None:
    script_id = upload(admin, "'json'")
    response = admin.post("/execute", json={"id": script_id})
    assert response.status_code == 200
    assert response.json()["result"] == "json"


def test_each_execution_runs_the_code_again(admin: httpx.Client) -> None:
    script_id = upload(admin, "globalThis.n = (globalThis.n || 0) + 1; console.log('run'); n > 0")
    for _ in range(3):
        body = execute(admin, script_id)
        assert body["result"] is True
        assert [e["message"] for e in body["logs"]] == ["run"]


def test_log_levels_and_formatting(admin: httpx.Client) -> None:
    body = run_js(
        admin,
        "console.info('i', 1); console.warn({a: [1, {b: 2}]}); console.error(new Error('boom')); console.debug('d', null, undefined)",
    )
    levels = [e["level"] for e in body["logs"]]
    assert levels == ["info", "warn", "error", "debug"]
    messages = [e["message"] for e in body["logs"]]
    assert messages[0] == "i 1"
    assert messages[1] == "{ a: [ 1, { b: 2 } ] }"
    assert messages[2].startswith("Error: boom")
    assert messages[3] == "d null undefined"


def test_logs_are_truncated_past_the_limit(admin: httpx.Client) -> None:
    body = run_js(admin, "for (let i = 0; i < 1500; i++) console.log('line', i)")
    assert len(body["logs"]) == 1001
    assert "truncated" in body["logs"][-1]["message"]


def test_thrown_error_is_an_exception_outcome(admin: httpx.Client) -> None:
    body = run_js(admin, "function f() { throw new TypeError('bad thing') }\nf()")
    assert body["outcome"] == "exception"
    assert body["result"] is None
    assert body["error"]["name"] == "TypeError"
    assert body["error"]["message"] == "bad thing"
    assert ".js:1:" in body["error"]["stack"]  # points into the user's script
    assert "isolane-runtime" not in body["error"]["stack"]


def test_thrown_non_error_and_rejection(admin: httpx.Client) -> None:
    assert run_js(admin, "throw 'plain'")["error"]["message"] == "Uncaught plain"
    body = run_js(admin, "Promise.reject(new RangeError('no'))")
    assert body["outcome"] == "exception"
    assert body["error"]["name"] == "RangeError"


def test_error_in_timer_callback_fails_the_invocation(admin: httpx.Client) -> None:
    body = run_js(admin, "new Promise(r => setTimeout(() => { throw new Error('in timer') }, 5))")
    assert body["outcome"] == "exception"
    assert body["error"]["message"] == "in timer"


def test_invocation_is_recorded(admin: httpx.Client) -> None:
    script_id = upload(admin, "console.log('recorded'); 7")
    response = admin.post("/execute", content=script_id)
    invocation_id = response.headers["x-isolane-invocation"]
    assert response.json()["invocation_id"] == invocation_id
    record = None
    for _ in range(50):
        got = admin.get(f"/v1/invocations/{invocation_id}")
        if got.status_code == 200:
            record = got.json()
            break
    assert record is not None
    assert record["namespace"] == "default"
    assert record["script"] == script_id and record["version"] == script_id
    assert record["trigger"] == "execute"
    assert record["outcome"] == "ok"
    assert [e["message"] for e in record["logs"]] == ["recorded"]


# -- bad input ---------------------------------------------------------------------------


def _error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    return error


def test_upload_rejects_empty_and_blank(admin: httpx.Client) -> None:
    _error(admin.post("/upload", content=b""), 400, "empty_script")
    _error(admin.post("/upload", content=b"  \n\t "), 400, "empty_script")


def test_upload_rejects_syntax_error_with_line(admin: httpx.Client) -> None:
    error = _error(admin.post("/upload", content=b"const a = 1;\n\nlet b = ;\n"), 400, "syntax_error")
    assert error["line"] == 3
    assert "SyntaxError" in error["message"] and "line 3" in error["message"]


def test_upload_rejects_invalid_utf8(admin: httpx.Client) -> None:
    _error(admin.post("/upload", content=b"'\xff\xfe'"), 400, "invalid_encoding")


def test_upload_rejects_oversize(admin: httpx.Client) -> None:
    code = b"// " + b"x" * 262_144
    _error(admin.post("/upload", content=code), 413, "script_too_large")


def test_upload_oversize_without_content_length(admin: httpx.Client) -> None:
    def chunks():
        for _ in range(40):
            yield b"/" * 8192

    _error(admin.post("/upload", content=chunks()), 413, "script_too_large")


def test_failed_upload_stores_nothing(admin: httpx.Client, server) -> None:
    before = sorted(p.name for p in (server.data_dir / "blobs").rglob("*") if p.is_file())
    admin.post("/upload", content=b"let broken = ;")
    after = sorted(p.name for p in (server.data_dir / "blobs").rglob("*") if p.is_file())
    assert before == after


def test_execute_unknown_and_malformed_ids(admin: httpx.Client) -> None:
    _error(admin.post("/execute", content=b"0" * 32), 404, "script_not_found")
    _error(admin.post("/execute", content=b"not-an-id"), 404, "script_not_found")
    _error(admin.post("/execute", content=b""), 400, "missing_id")
    _error(admin.post("/execute", content=b"{broken json"), 400, "invalid_json")
    _error(admin.post("/execute", json={"id": 5}), 400, "missing_id")
    _error(admin.post("/execute", json=["x"]), 400, "missing_id")


def test_unknown_endpoint_and_method_are_json(admin: httpx.Client) -> None:
    _error(admin.get("/nope"), 404, "not_found")
    _error(admin.get("/upload"), 405, "method_not_allowed")
