"""What passes between a browser and a tenant's script (isolane/server/tenant_headers.py),
over HTTP against a real server: by path, the response is a sandboxed document whose
origin-wide headers are dropped and whose cookies are mounted at the script's prefix; on
both routes, cookies are host-only, the platform's cookies are neither set by a script nor
forwarded to one; a platform page cannot load a response served by path as code."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from isolane.server.tenant_headers import SANDBOX_POLICY
from isolane.testing import Server
from tests.conftest import ADMIN_TOKEN, deploy
from tests.dashboard.conftest import logged_in

NS = "hdrs"
PREFIX = f"/v1/namespaces/{NS}/scripts/mirror/invoke"
# Answers with the request's headers (JSON), and the response headers the query asks for.
MIRROR = """
export default {
  async fetch(request) {
    const wanted = JSON.parse(new URL(request.url).searchParams.get("set") || "[]");
    const headers = new Headers({ "content-type": "application/json" });
    for (const [name, value] of wanted) headers.append(name, value);
    return new Response(JSON.stringify(Object.fromEntries(request.headers)), { headers });
  },
};
"""
ORIGIN_WIDE = {
    "service-worker-allowed": "/",
    "strict-transport-security": "max-age=31536000; includeSubDomains",
    "alt-svc": 'h2="evil.example:443"',
    "origin-agent-cluster": "?0",
    "nel": '{"report_to": "default", "max_age": 86400, "include_subdomains": true}',
    "report-to": '{"group": "default", "max_age": 86400, "endpoints": [{"url": "https://evil.example/r"}]}',
    "accept-ch": "Sec-CH-UA-Full-Version-List",
    "critical-ch": "Sec-CH-UA-Full-Version-List",
    "set-login": "logged-in",
}


@pytest.fixture(scope="module")
def mirror(server: Server) -> None:
    with server.admin() as admin:
        assert admin.put(f"/v1/namespaces/{NS}").status_code in (200, 201)
        deploy(admin, "mirror", MIRROR, ns=NS)


def by_path(server: Server, headers: dict[str, str] | None = None, set_headers: list[tuple[str, str]] = (), path: str = "/") -> httpx.Response:
    params = {"set": json.dumps(list(set_headers))}
    return httpx.get(f"{server.url}{PREFIX}{path}", params=params, headers=headers, timeout=30)


def by_host(server: Server, headers: dict[str, str] | None = None, set_headers: list[tuple[str, str]] = (), path: str = "/") -> httpx.Response:
    params = {"set": json.dumps(list(set_headers))}
    return httpx.get(f"{server.url}{path}", params=params, headers={"host": f"mirror.{NS}.localhost", **(headers or {})}, timeout=30)


def test_by_path_a_response_is_a_sandboxed_document_the_script_cannot_unsandbox(server: Server, mirror: None) -> None:
    response = by_path(server, set_headers=[("content-security-policy", "sandbox allow-same-origin allow-scripts"), ("x-mine", "kept")])
    assert response.status_code == 200, response.text
    policies = response.headers.get_list("content-security-policy")
    # Every policy is enforced: the script's own cannot lift ours, which has no allow-same-origin.
    assert policies == ["sandbox allow-same-origin allow-scripts", SANDBOX_POLICY]
    assert "allow-same-origin" not in SANDBOX_POLICY and SANDBOX_POLICY.startswith("sandbox ")
    assert response.headers["x-mine"] == "kept"
    # On its own hostname the script's origin is its own: nothing is added.
    assert "content-security-policy" not in by_host(server).headers


def test_headers_acting_on_the_whole_origin_are_dropped_by_path(server: Server, mirror: None) -> None:
    wanted = [*ORIGIN_WIDE.items(), ("clear-site-data", '"cookies", "storage"'), ("x-isolane-outcome", "exception"), ("x-isolane-invocation", "f" * 32)]
    response = by_path(server, set_headers=wanted)
    assert response.status_code == 200, response.text
    for name in [*ORIGIN_WIDE, "clear-site-data"]:
        assert name not in response.headers, name
    # The server's own headers are the server's.
    assert "x-isolane-outcome" not in response.headers
    assert response.headers.get_list("x-isolane-invocation") != ["f" * 32]
    assert len(response.headers.get_list("x-isolane-invocation")) == 1

    # On its own hostname, the origin is the script's: only what reaches past it is dropped
    # (Clear-Site-Data's "cookies" clears the whole registrable domain).
    hosted = by_host(server, set_headers=wanted)
    for name, value in ORIGIN_WIDE.items():
        assert hosted.headers[name] == value, name
    assert "clear-site-data" not in hosted.headers and "x-isolane-outcome" not in hosted.headers


def test_by_path_cookies_are_mounted_at_the_script_and_host_only(server: Server, mirror: None) -> None:
    cookies = [
        ("a=1", f"a=1; Path={PREFIX}/"),
        ("b=2; Path=/dashboard; Domain=127.0.0.1; HttpOnly", f"b=2; HttpOnly; Path={PREFIX}/dashboard"),
        ("c=3; Path=/x; path=/dashboard", f"c=3; Path={PREFIX}/dashboard"),  # the last Path counts
        ("d=4; Path=relative; Secure", f"d=4; Secure; Path={PREFIX}/"),
        ("e=5; Expires=Wed, 21 Oct 2037 07:28:00 GMT; domain=.localhost; SameSite=Lax", f"e=5; Expires=Wed, 21 Oct 2037 07:28:00 GMT; SameSite=Lax; Path={PREFIX}/"),
        ("f=6; Path=/../../dashboard", f"f=6; Path={PREFIX}/../../dashboard"),  # never a prefix of a resolved path
        ("__Host-isolane_session=planted; Path=/; Secure", None),
        ("__Host-isolane_login=planted; Path=/; Secure", None),
    ]
    response = by_path(server, set_headers=[("set-cookie", sent) for sent, _ in cookies])
    assert response.headers.get_list("set-cookie") == [expected for _, expected in cookies if expected is not None]


def test_by_hostname_cookies_keep_their_path_and_lose_their_domain(server: Server, mirror: None) -> None:
    cookies = [
        ("a=1", "a=1"),
        ("b=2; Path=/dashboard; Domain=localhost; HttpOnly", "b=2; HttpOnly; Path=/dashboard"),  # not the dashboard's host
        ("c=3; Domain=mirror.hdrs.localhost; Path=/", "c=3; Path=/"),
        ("d=4; Path=/x; Path=/y", "d=4; Path=/y"),
        ("__Host-isolane_session=planted; Path=/; Secure", None),
    ]
    response = by_host(server, set_headers=[("set-cookie", sent) for sent, _ in cookies])
    assert response.status_code == 200, response.text
    assert response.headers.get_list("set-cookie") == [expected for _, expected in cookies if expected is not None]


@pytest.mark.parametrize("route", [by_path, by_host], ids=["by path", "by hostname"])
def test_the_platforms_cookies_never_reach_a_script(server: Server, mirror: None, route) -> None:  # noqa: ANN001
    seen = route(server, headers={"cookie": "a=1; __Host-isolane_session=secret; __Host-isolane_login=x;b=2"}).json()
    assert seen["cookie"] == "a=1; b=2"
    only = route(server, headers={"cookie": "__Host-isolane_session=secret"}).json()
    assert "cookie" not in only
    assert "secret" not in json.dumps(only)


@pytest.fixture()
def session_cookie(server: Server) -> Iterator[str]:
    visitor = logged_in(server, ADMIN_TOKEN)
    yield "; ".join(f"{name}={value}" for name, value in visitor.cookies.items())
    visitor.close()


def test_a_browsers_dashboard_session_is_not_forwarded(server: Server, mirror: None, session_cookie: str) -> None:
    """A browser logged into the dashboard sends its session (Path=/) with a top-level
    navigation to a path invocation: the script never sees it."""
    assert "__Host-isolane_session=" in session_cookie
    seen = by_path(server, headers={"cookie": f"theirs=1; {session_cookie}"}).json()
    assert seen["cookie"] == "theirs=1"


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "same-origin", "sec-fetch-dest": "script"},
        {"sec-fetch-site": "same-origin", "sec-fetch-dest": "style"},
        {"sec-fetch-site": "same-origin", "sec-fetch-dest": "worker"},
        {"sec-fetch-site": "same-origin", "sec-fetch-dest": "sharedworker"},
        {"sec-fetch-site": "cross-site", "sec-fetch-dest": "serviceworker"},
        {"service-worker": "script"},
    ],
    ids=lambda headers: ",".join(headers.values()),
)
def test_a_platform_page_cannot_load_a_response_served_by_path_as_code(server: Server, mirror: None, headers: dict[str, str]) -> None:
    response = by_path(server, headers=headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "subresource_refused"
    assert "x-isolane-invocation" not in response.headers  # refused before the script ran
    # On its own hostname the script's origin is its own.
    assert by_host(server, headers=headers).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "cross-site", "sec-fetch-dest": "script"},  # its own sandboxed page loading its scripts
        {"sec-fetch-site": "same-origin", "sec-fetch-dest": "document"},  # a link from the dashboard: sandboxed
        {"sec-fetch-site": "same-origin", "sec-fetch-dest": "empty"},
        {"sec-fetch-site": "none", "sec-fetch-dest": "document"},  # typed in the address bar
    ],
    ids=lambda headers: ",".join(headers.values()),
)
def test_documents_and_the_scripts_own_subresources_are_served(server: Server, mirror: None, headers: dict[str, str]) -> None:
    response = by_path(server, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["sec-fetch-dest"] == headers["sec-fetch-dest"]  # forwarded as sent
