"""The dashboard over HTTP against a real server: login and its cookie, scope, CSRF,
logout, revocation, and the pages (script, invoke form, records, code viewer)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from isolane.dashboard.highlight import HIGHLIGHT_BUDGET_BYTES
from isolane.testing import Server
from tests.conftest import ADMIN_TOKEN, deploy, multipart_upload
from tests.dashboard.conftest import Visitor, eventually, logged_in, new_token, set_cookies

NS_A = "dash-a"
NS_B = "dash-b"
ECHO = """
export default {
  async fetch(request) {
    const url = new URL(request.url);
    console.log("echo " + request.method + " " + url.pathname);
    if (url.pathname === "/boom") throw new TypeError("kaboom <b>");
    const body = request.method === "GET" ? "" : await request.text();
    return new Response("<script>alert(1)</script> " + request.method + " " + url.pathname + url.search
      + " x-test=" + request.headers.get("x-test") + " body=" + body,
      { status: 201, headers: { "content-type": "text/html", "x-echo": "yes" } });
  },
};
"""


@pytest.fixture(scope="module")
def namespaces(server: Server) -> Iterator[None]:
    with server.admin() as admin:
        for ns in (NS_A, NS_B):
            assert admin.put(f"/v1/namespaces/{ns}").status_code in (200, 201)
            deploy(admin, "echo", ECHO, ns=ns)
    yield


@pytest.fixture()
def visitor(server: Server, namespaces: None) -> Iterator[Visitor]:
    visitor = logged_in(server, ADMIN_TOKEN)
    yield visitor
    visitor.close()


def record_count(admin: httpx.Client, ns: str, name: str) -> int:
    response = admin.get(f"/v1/namespaces/{ns}/scripts/{name}/invocations", params={"limit": "1000"})
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


# ---- login, cookie, session


def test_a_page_without_a_session_redirects_to_login(server: Server) -> None:
    visitor = Visitor(server)
    response = visitor.get(f"/dashboard/namespaces/{NS_A}")
    assert response.status_code == 303
    assert response.headers["location"] == f"/dashboard/login?next=%2Fdashboard%2Fnamespaces%2F{NS_A}"
    login = visitor.get("/dashboard/login")
    assert login.status_code == 200
    assert 'type="password"' in login.text
    assert "default-src 'none'" in login.headers["content-security-policy"]


def test_login_sets_a_secure_http_only_strict_cookie_that_is_not_the_token(server: Server) -> None:
    visitor = Visitor(server)
    response = visitor.login(ADMIN_TOKEN)
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard"
    morsel = set_cookies(response)["__Host-isolane_session"]["__Host-isolane_session"]
    assert morsel["httponly"] is True
    assert morsel["secure"] is True
    assert morsel["samesite"].lower() == "strict"
    assert morsel["path"] == "/"
    assert int(morsel["max-age"]) > 0
    assert ADMIN_TOKEN not in morsel.value
    # The cookie is no API credential.
    assert httpx.get(f"{server.url}/v1/namespaces", headers={"authorization": f"Bearer {morsel.value}"}).status_code == 401
    page = visitor.get("/dashboard")
    assert page.status_code == 200
    assert 'href="/dashboard/namespaces/default"' in page.text


def test_login_with_a_bad_token_is_refused(server: Server) -> None:
    visitor = Visitor(server)
    response = visitor.login("isl_not_a_real_token")
    assert response.status_code == 401
    assert "not valid" in response.text
    assert "__Host-isolane_session" not in set_cookies(response)
    assert visitor.get("/dashboard").status_code == 303


# Where a login may not send the browser: off the dashboard once the browser has resolved
# dot segments, percent-encoded dots and slashes, backslashes, tabs and newlines, or to
# another host.
SNEAKY_NEXT = [
    f"/dashboard/../v1/namespaces/{NS_A}/scripts/echo/invoke/",
    "/dashboard/./namespaces",
    "/dashboard/namespaces/..",
    "/dashboard/namespaces/../../v1/namespaces",
    "/dashboard/%2e%2e/v1/namespaces",
    "/dashboard/%2E%2E/v1/namespaces",
    "/dashboard/.%2e/v1/namespaces",
    "/dashboard/%2fv1",
    "/dashboard/%5c..%5cv1",
    "/dashboard//evil.example",
    "//evil.example/dashboard",
    "/dashboard\\..\\v1",
    "/dashboard/\\evil.example",
    "\\\\evil.example",
    "https://evil.example/dashboard",
    "/dashboardx",
    "/dashboard/\t../v1",
    "/dashboard/namespaces\n/../..",
    "/dashboard/namespaces?next=\\..",
    "/dashboard#@evil.example",
    f"/v1/namespaces/{NS_A}/scripts/echo/invoke/",
    "dashboard",
]
ALLOWED_NEXT = ["/dashboard", "/dashboard/", f"/dashboard/namespaces/{NS_A}", f"/dashboard/namespaces/{NS_A}/scripts/echo/tail?outcome=exception&sample=0.5"]


@pytest.mark.parametrize("target", SNEAKY_NEXT)
def test_login_never_sends_the_browser_off_the_dashboard(server: Server, namespaces: None, target: str) -> None:
    visitor = Visitor(server)
    form = visitor.get("/dashboard/login", params={"next": target})
    assert 'name="next" value="/dashboard"' in form.text
    nonce = visitor.csrf("/dashboard/login")
    response = visitor.post("/dashboard/login", {"csrf": nonce, "token": ADMIN_TOKEN, "next": target})
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard"
    visitor.close()


@pytest.mark.parametrize("target", ALLOWED_NEXT)
def test_login_returns_to_the_dashboard_page_asked_for(server: Server, namespaces: None, target: str) -> None:
    visitor = Visitor(server)
    nonce = visitor.csrf("/dashboard/login")
    response = visitor.post("/dashboard/login", {"csrf": nonce, "token": ADMIN_TOKEN, "next": target})
    assert response.status_code == 303
    assert response.headers["location"] == target
    visitor.close()


def test_pages_keep_other_origins_out(server: Server, visitor: Visitor) -> None:
    """No other origin may frame a page, keep a handle on a window that opened one, or
    load one as a resource."""
    for path in ("/dashboard/login", "/dashboard", "/dashboard/static/dashboard.css"):
        response = visitor.get(path)
        assert response.status_code == 200, path
        assert response.headers["cross-origin-opener-policy"] == "same-origin"
        assert response.headers["cross-origin-resource-policy"] == "same-origin"
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_login_without_the_form_nonce_or_from_another_site_is_refused(server: Server) -> None:
    visitor = Visitor(server)
    nonce = visitor.csrf("/dashboard/login")
    assert visitor.post("/dashboard/login", {"csrf": "forged", "token": ADMIN_TOKEN}).status_code == 403
    cross = visitor.post("/dashboard/login", {"csrf": nonce, "token": ADMIN_TOKEN}, headers={"origin": "https://evil.example"})
    assert cross.status_code == 403
    assert "__Host-isolane_session" not in visitor.cookies


def test_a_tampered_or_forged_cookie_is_no_session(server: Server, visitor: Visitor) -> None:
    value = visitor.cookies["__Host-isolane_session"]
    version, token_id, expires, nonce, mac = value.split(".")
    for forged in (
        f"{version}.{token_id}.{int(expires) + 3600}.{nonce}.{mac}",  # a longer life
        f"{version}.{token_id}.{expires}.{nonce}.{mac[:-2]}AA",
        f"{version}.0123456789abcdef.{expires}.{nonce}.{mac}",  # another token
        "garbage",
    ):
        visitor.cookies["__Host-isolane_session"] = forged
        assert visitor.get("/dashboard").status_code == 303, forged
    visitor.cookies["__Host-isolane_session"] = value
    assert visitor.get("/dashboard").status_code == 200


def test_logout_needs_the_csrf_token_and_clears_the_cookie(server: Server, visitor: Visitor) -> None:
    csrf = visitor.csrf()
    assert visitor.post("/dashboard/logout", {}).status_code == 403
    assert "__Host-isolane_session" in visitor.cookies
    response = visitor.post("/dashboard/logout", {"csrf": csrf})
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/login"
    assert set_cookies(response)["__Host-isolane_session"]["__Host-isolane_session"]["max-age"] == "0"
    assert "__Host-isolane_session" not in visitor.cookies
    assert visitor.get("/dashboard").status_code == 303


def test_a_copy_of_the_cookie_stops_working_at_logout(server: Server, visitor: Visitor) -> None:
    """Logging out ends the session on the server too (on every server sharing the store)."""
    copy = Visitor(server)
    copy.cookies = dict(visitor.cookies)
    assert copy.get("/dashboard").status_code == 200
    assert visitor.post("/dashboard/logout", {"csrf": visitor.csrf()}).status_code == 303
    response = copy.get("/dashboard")
    assert response.status_code == 303 and response.headers["location"].startswith("/dashboard/login")
    # Logging in again makes a new session, which works.
    assert copy.login(ADMIN_TOKEN).status_code == 303
    assert copy.get("/dashboard").status_code == 200
    copy.close()


def test_a_deleted_token_ends_its_sessions(server: Server, admin: httpx.Client, namespaces: None) -> None:
    token_id, secret = new_token(admin, f"namespace:{NS_A}")
    visitor = logged_in(server, secret)
    assert visitor.get(f"/dashboard/namespaces/{NS_A}").status_code == 200
    assert admin.delete(f"/v1/tokens/{token_id}").status_code == 200
    response = visitor.get(f"/dashboard/namespaces/{NS_A}")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/dashboard/login")


def test_non_ascii_macs_and_csrf_values_are_refused_cleanly(server: Server, visitor: Visitor) -> None:
    """Never a 500: a cookie MAC, a session's CSRF token or the login nonce outside ASCII
    is simply wrong (hmac.compare_digest raises TypeError on such str)."""
    version, token_id, expires, nonce, _ = visitor.cookies["__Host-isolane_session"].split(".")
    forged = f"{version}.{token_id}.{expires}.{nonce}.éé".encode()
    response = httpx.get(f"{server.url}/dashboard", headers={"cookie": b"__Host-isolane_session=" + forged})
    assert response.status_code == 303 and response.headers["location"].startswith("/dashboard/login")
    for path, form in (
        ("/dashboard/logout", {"csrf": "éx"}),
        (f"/dashboard/namespaces/{NS_A}/scripts/echo/invoke", {"csrf": "é", "method": "GET", "path": "/"}),
    ):
        response = visitor.post(path, form)
        assert response.status_code == 403, (path, response.text)
        assert "csrf_failed" in response.text
    assert visitor.get("/dashboard").status_code == 200  # still logged in
    stranger = Visitor(server)
    stranger.csrf("/dashboard/login")  # sets the login nonce cookie
    response = stranger.post("/dashboard/login", {"csrf": "é", "token": ADMIN_TOKEN})
    assert response.status_code == 403 and "csrf_failed" in response.text
    assert "__Host-isolane_session" not in stranger.cookies
    response = stranger.client.post(  # a login cookie outside ASCII
        "/dashboard/login", data={"csrf": "x", "token": ADMIN_TOKEN}, headers={"cookie": "__Host-isolane_login=é".encode(), "origin": server.url}
    )
    assert response.status_code == 403 and "csrf_failed" in response.text
    stranger.close()


# ---- scope


def test_a_namespace_token_sees_only_its_namespace(server: Server, admin: httpx.Client, namespaces: None) -> None:
    _, secret = new_token(admin, f"namespace:{NS_A}")
    visitor = logged_in(server, secret)
    listing = visitor.get("/dashboard")
    assert f"/dashboard/namespaces/{NS_A}" in listing.text
    assert f"/dashboard/namespaces/{NS_B}" not in listing.text
    assert "/dashboard/namespaces/default" not in listing.text
    assert visitor.get(f"/dashboard/namespaces/{NS_A}/scripts/echo").status_code == 200
    for path in (
        f"/dashboard/namespaces/{NS_B}",
        f"/dashboard/namespaces/{NS_B}/scripts/echo",
        f"/dashboard/namespaces/{NS_B}/scripts/echo/tail",
        "/dashboard/namespaces/default",
    ):
        response = visitor.get(path)
        assert response.status_code == 404, path
        assert "namespace_not_found" in response.text
    other = visitor.post(f"/dashboard/namespaces/{NS_B}/scripts/echo/invoke", {"csrf": visitor.csrf(), "method": "GET", "path": "/"})
    assert other.status_code == 404
    # A record of another namespace does not exist for it either.
    with server.admin() as admin_client:
        record_id = httpx.get(f"{server.url}/v1/namespaces/{NS_B}/scripts/echo/invoke/x").headers["x-isolane-invocation"]
        eventually(lambda: admin_client.get(f"/v1/invocations/{record_id}").status_code == 200)
    assert visitor.get(f"/dashboard/invocations/{record_id}").status_code == 404


def test_a_read_only_token_cannot_invoke(server: Server, admin: httpx.Client, namespaces: None) -> None:
    _, secret = new_token(admin, f"namespace:{NS_A}", read_only=True)
    visitor = logged_in(server, secret)
    page = visitor.get(f"/dashboard/namespaces/{NS_A}/scripts/echo")
    assert page.status_code == 200
    assert "read-only" in page.text
    assert "/invoke" not in page.text
    before = record_count(admin, NS_A, "echo")
    response = visitor.post(f"/dashboard/namespaces/{NS_A}/scripts/echo/invoke", {"csrf": visitor.csrf(), "method": "GET", "path": "/"})
    assert response.status_code == 403
    assert "read_only_token" in response.text
    assert record_count(admin, NS_A, "echo") == before


# ---- CSRF


def test_an_invoke_without_a_valid_csrf_token_runs_nothing(server: Server, visitor: Visitor, admin: httpx.Client) -> None:
    before = record_count(admin, NS_A, "echo")
    path = f"/dashboard/namespaces/{NS_A}/scripts/echo/invoke"
    assert visitor.post(path, {"method": "GET", "path": "/"}).status_code == 403
    assert visitor.post(path, {"csrf": "x" * 43, "method": "GET", "path": "/"}).status_code == 403
    other = logged_in(server, ADMIN_TOKEN)  # another session's token is no good here
    assert visitor.post(path, {"csrf": other.csrf(), "method": "GET", "path": "/"}).status_code == 403
    cross = visitor.post(path, {"csrf": visitor.csrf(), "method": "GET", "path": "/"}, headers={"sec-fetch-site": "cross-site"})
    assert cross.status_code == 403
    assert record_count(admin, NS_A, "echo") == before


def test_posts_with_an_opaque_origin_are_refused(server: Server, visitor: Visitor, admin: httpx.Client) -> None:
    """`Origin: null` (a sandboxed frame, a data: URL, a privacy redirect) is no origin of
    this site: refused on every dashboard POST."""
    null = {"origin": "null"}
    before = record_count(admin, NS_A, "echo")
    invoke = visitor.post(f"/dashboard/namespaces/{NS_A}/scripts/echo/invoke", {"csrf": visitor.csrf(), "method": "GET", "path": "/"}, headers=null)
    assert invoke.status_code == 403 and "cross_site_request" in invoke.text
    logout = visitor.post("/dashboard/logout", {"csrf": visitor.csrf()}, headers=null)
    assert logout.status_code == 403 and "cross_site_request" in logout.text
    assert visitor.get("/dashboard").status_code == 200  # still logged in
    stranger = Visitor(server)
    nonce = stranger.csrf("/dashboard/login")
    login = stranger.post("/dashboard/login", {"csrf": nonce, "token": ADMIN_TOKEN}, headers=null)
    assert login.status_code == 403 and "cross_site_request" in login.text
    assert "__Host-isolane_session" not in stranger.cookies
    stranger.close()
    assert record_count(admin, NS_A, "echo") == before


# ---- pages


def test_the_invoke_form_runs_the_script_and_shows_its_response_as_text(server: Server, visitor: Visitor, admin: httpx.Client) -> None:
    response = visitor.post(
        f"/dashboard/namespaces/{NS_A}/scripts/echo/invoke",
        {"csrf": visitor.csrf(), "method": "POST", "path": "/hello/wörld?q=1", "headers": "X-Test: yes\n", "body": "ping"},
    )
    assert response.status_code == 200, response.text
    html = response.text
    assert '<span class="status" id="result-status">201</span>' in html
    assert "<script>alert(1)</script>" not in html  # the tenant's HTML is shown as text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; POST /hello/w%C3%B6rld?q=1 x-test=yes body=ping" in html
    assert "<th>x-echo</th><td>yes</td>" in html
    record_id = re.search(r'id="result-record" href="/dashboard/invocations/([0-9a-f]{32})"', html).group(1)
    # The record is written in the background: it appears shortly after.
    eventually(lambda: f'data-id="{record_id}"' in visitor.get(f"/dashboard/namespaces/{NS_A}/scripts/echo").text)
    record = visitor.get(f"/dashboard/invocations/{record_id}")
    assert record.status_code == 200
    assert "echo POST /hello/w%C3%B6rld" in record.text
    assert admin.get(f"/v1/invocations/{record_id}").json()["status"] == 201


def test_a_failing_invocation_shows_its_error_and_stack(server: Server, visitor: Visitor) -> None:
    response = visitor.post(f"/dashboard/namespaces/{NS_A}/scripts/echo/invoke", {"csrf": visitor.csrf(), "method": "GET", "path": "/boom"})
    assert response.status_code == 200
    assert '<span class="status" id="result-status">500</span>' in response.text
    assert "worker_exception" in response.text
    record_id = re.search(r"/dashboard/invocations/([0-9a-f]{32})", response.text).group(1)
    eventually(lambda: visitor.get(f"/dashboard/invocations/{record_id}").status_code == 200)
    record = visitor.get(f"/dashboard/invocations/{record_id}").text
    assert "exception" in record
    assert "TypeError: kaboom &lt;b&gt;" in record
    assert 'class="stack"' in record and "at Object.fetch (worker.js:6:" in record


def test_a_malformed_invoke_form_is_a_400_and_runs_nothing(server: Server, visitor: Visitor, admin: httpx.Client) -> None:
    before = record_count(admin, NS_A, "echo")
    path = f"/dashboard/namespaces/{NS_A}/scripts/echo/invoke"
    for form in (
        {"method": "BREW", "path": "/"},
        {"method": "GET", "path": "no-slash"},
        {"method": "GET", "path": "/", "headers": "not a header"},
        {"method": "GET", "path": "/", "body": "a GET with a body"},
    ):
        response = visitor.post(path, {"csrf": visitor.csrf(), **form})
        assert response.status_code == 400, form
        assert "text/html" in response.headers["content-type"]
    assert visitor.post(f"/dashboard/namespaces/{NS_A}/scripts/nope/invoke", {"csrf": visitor.csrf(), "method": "GET", "path": "/"}).status_code == 404
    assert record_count(admin, NS_A, "echo") == before


def test_the_script_page_shows_deployment_versions_and_charts(server: Server, visitor: Visitor) -> None:
    for _ in range(3):
        httpx.get(f"{server.url}/v1/namespaces/{NS_A}/scripts/echo/invoke/chart")
    httpx.get(f"{server.url}/v1/namespaces/{NS_A}/scripts/echo/invoke/boom")

    def charted() -> bool:
        return "<circle" in visitor.get(f"/dashboard/namespaces/{NS_A}/scripts/echo").text

    eventually(charted)
    html = visitor.get(f"/dashboard/namespaces/{NS_A}/scripts/echo").text
    assert html.count('<svg class="chart"') == 2
    assert 'class="bar series-errors"' in html  # some hour has an error rate
    assert "100%" in html  # the single version serves all traffic
    assert re.search(r'href="/dashboard/namespaces/dash-a/scripts/echo/versions/[0-9a-f]+"', html)


def test_the_code_viewer_highlights_and_escapes_the_source(server: Server, visitor: Visitor, admin: httpx.Client) -> None:
    version_id = admin.get(f"/v1/namespaces/{NS_A}/scripts/echo").json()["version_id"]
    page = visitor.get(f"/dashboard/namespaces/{NS_A}/scripts/echo/versions/{version_id}")
    assert page.status_code == 200
    assert 'class="code"' in page.text
    assert '<span class="k">export</span>' in page.text  # a keyword, highlighted
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text or "&lt;script&gt;" in page.text
    assert "<script>alert" not in page.text
    assert visitor.get(f"/dashboard/namespaces/{NS_A}/scripts/echo/versions/{'0' * 64}").status_code == 404


def test_secret_values_never_appear(server: Server, visitor: Visitor, admin: httpx.Client) -> None:
    deploy(admin, "secretive", "export default { fetch() { return new Response('ok'); } };", ns=NS_A)
    response = admin.put(f"/v1/namespaces/{NS_A}/scripts/secretive/secrets", json={"name": "API_KEY", "text": "sup3r-s3cret-value"})
    assert response.status_code in (200, 201), response.text
    version_id = admin.get(f"/v1/namespaces/{NS_A}/scripts/secretive").json()["version_id"]
    for path in (f"/dashboard/namespaces/{NS_A}/scripts/secretive", f"/dashboard/namespaces/{NS_A}/scripts/secretive/versions/{version_id}"):
        page = visitor.get(path)
        assert page.status_code == 200
        assert "sup3r-s3cret-value" not in page.text
    assert "API_KEY: secret_text" in visitor.get(f"/dashboard/namespaces/{NS_A}/scripts/secretive").text


def test_unknown_pages_and_static_files(server: Server, visitor: Visitor) -> None:
    assert visitor.get("/dashboard/nothing/here").status_code == 404
    assert visitor.get("/dashboard/namespaces/Not_A_Name").status_code == 404
    css = visitor.get("/dashboard/static/dashboard.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert ".code" in css.text  # the highlighting rules come with it
    assert visitor.get("/dashboard/static/../app.py").status_code == 404
    assert httpx.get(f"{server.url}/openapi.json").json()["paths"].keys().isdisjoint({"/dashboard", "/dashboard/login"})


# ---- live tail


def test_the_tail_stream_follows_the_session_cookie(server: Server, visitor: Visitor) -> None:
    page = visitor.get(f"/dashboard/namespaces/{NS_A}/scripts/echo/tail?outcome=exception")
    assert page.status_code == 200
    events_url = re.search(r'data-events="([^"]+)"', page.text).group(1)
    assert events_url == f"/dashboard/namespaces/{NS_A}/scripts/echo/tail/events?outcome=exception"
    assert visitor.get(f"/dashboard/namespaces/{NS_A}/scripts/echo/tail?sample=2").status_code == 400
    assert Visitor(server).get(events_url).status_code == 303  # no session, no stream
    headers = {"cookie": f"__Host-isolane_session={visitor.cookies['__Host-isolane_session']}"}
    with httpx.stream("GET", server.url + events_url, headers=headers, timeout=20) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines) == "event: connected"
        assert '"outcomes":["exception"]' in next(lines)
        httpx.get(f"{server.url}/v1/namespaces/{NS_A}/scripts/echo/invoke/fine")  # filtered out
        failed = httpx.get(f"{server.url}/v1/namespaces/{NS_A}/scripts/echo/invoke/boom").headers["x-isolane-invocation"]
        received = []
        for line in lines:
            if line:
                received.append(line)
            if line.startswith("data: "):
                break
        assert received[:2] == ["event: invocation", f"id: {failed}"]
        assert '"outcome":"exception"' in received[-1]


# ---- cost of a page


CHATTY = """
export default {
  fetch() {
    for (let i = 0; i < 16; i++) console.log("CHATTYLOG-" + "x".repeat(16000));
    return new Response("ok");
  },
};
"""


def test_the_script_page_stays_small_with_large_logs(server: Server, visitor: Visitor, admin: httpx.Client) -> None:
    """Records with 256 Ki characters of logs each: the page (table and charts) reads none
    of them (RecordStore.summaries and .timings), and shows none."""
    deploy(admin, "chatty", CHATTY, ns=NS_A)
    for _ in range(30):
        assert httpx.get(f"{server.url}/v1/namespaces/{NS_A}/scripts/chatty/invoke/").status_code == 200
    eventually(lambda: record_count(admin, NS_A, "chatty") == 30)
    page = visitor.get(f"/dashboard/namespaces/{NS_A}/scripts/chatty")
    assert page.status_code == 200
    assert page.text.count("<tr data-id=") == 25  # the newest RECENT_INVOCATIONS
    assert "latest 30 records" in page.text  # all of them behind the percentiles
    assert "CHATTYLOG" not in page.text
    assert len(page.content) < 64 * 1024


def test_a_large_version_is_highlighted_within_a_budget(make_server) -> None:  # noqa: ANN001 - fixture
    """Three modules of 300 KB: the page highlights 256 KiB of them in all and says how
    much it does not show (unbounded, it was ~9 bytes of HTML per byte of code)."""
    big_server = make_server("--max-script-bytes", str(4 * 1024 * 1024))
    lines = {tag: "".join(f'export const {tag}{i} = "<i>{i}</i>";\n' for i in range(10_000)) for tag in ("a", "b")}
    main = 'import { a0 } from "./a.js";\nimport { b0 } from "./b.js";\nexport default { fetch() { return new Response(a0 + b0); } };\n'
    modules = {
        "main.js": (main, "application/javascript+module"),
        "a.js": (lines["a"], "application/javascript+module"),
        "b.js": (lines["b"], "application/javascript+module"),
    }
    with big_server.admin() as admin:
        response = admin.put("/v1/namespaces/default/scripts/large", files=multipart_upload(modules, {"main_module": "main.js"}))
        assert response.status_code in (200, 201), response.text
        version_id = response.json()["version_id"]
    assert len(lines["a"]) + len(lines["b"]) > 2 * HIGHLIGHT_BUDGET_BYTES
    visitor = logged_in(big_server, ADMIN_TOKEN)
    path = f"/dashboard/namespaces/default/scripts/large/versions/{version_id}"
    page = visitor.get(path)
    assert page.status_code == 200
    assert '<span class="k">export</span>' in page.text
    notes = re.findall(r'<p class="empty not-shown">(\d+) bytes not shown', page.text)
    assert len(notes) == 2  # a.js in part, b.js entirely
    hidden = sum(int(note) for note in notes)
    assert len(main) + len(lines["a"]) + len(lines["b"]) - hidden <= HIGHLIGHT_BUDGET_BYTES
    assert f"/versions/{version_id}/content" in page.text
    assert len(page.content) < 16 * HIGHLIGHT_BUDGET_BYTES
    assert visitor.get(path).text == page.text  # again (from the cache): the same page
    visitor.close()
