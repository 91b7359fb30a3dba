"""The headers that pass between a browser and a tenant's script, and those that do not.

A script served by path (`/v1/namespaces/{ns}/scripts/{name}/invoke/...`) answers on the
platform's own origin, the dashboard's and the API's. So that a tenant's page can never act
as that origin (see docs/dashboard.md, "Tenant pages and the dashboard's origin"):

- its responses are opaque-origin documents: `Content-Security-Policy: sandbox` without
  `allow-same-origin`, added here after the script's own headers (every CSP header is
  enforced, so the script cannot lift it): the page cannot read same-origin pages, send
  the dashboard's SameSite cookies, read or write cookies from script, or register a
  service worker;
- headers that act on the whole origin are dropped (`Service-Worker-Allowed`, HSTS,
  `Alt-Svc`, NEL and `Report-To`, client hints, `Origin-Agent-Cluster`, `Set-Login`);
- its `Set-Cookie` is mounted at the script's prefix, as a reverse proxy mounting an app
  would: `Path=/x` becomes `Path=/v1/namespaces/{ns}/scripts/{name}/invoke/x`;
- a platform page may not load its responses as a script, stylesheet or worker: a request
  that says so (`Sec-Fetch-Site: same-origin` with such a `Sec-Fetch-Dest`, or
  `Service-Worker: script`) is refused before the script runs.

On both routes `Clear-Site-Data` is dropped (its "cookies" clear the whole registrable
domain, the dashboard's host included when it shares one with the dispatch domain), a
cookie's `Domain` is dropped (a tenant's cookie is host-only: it cannot reach another
tenant's host or the dashboard's), cookies named with the platform's prefix are neither
set by a tenant nor forwarded to one, and the headers the server computes itself are the
server's. This runs on every invocation: one pass over each header list, dictionary and
set lookups only.
"""

from __future__ import annotations

from typing import Any

from isolane.errors import Forbidden

# The dashboard's cookies are named with this prefix (`__Host-`: only the host itself can
# set them, on Path=/, never another host of the same site). The gateway never forwards
# them to a script and never lets a script set one.
PLATFORM_COOKIE_PREFIX = "__Host-isolane_"
_PLATFORM_COOKIE_BYTES = PLATFORM_COOKIE_PREFIX.encode("ascii")

# Everything a page needs but its own origin: scripts, forms, popups (which inherit the
# sandbox), dialogs, downloads.
SANDBOX_POLICY = "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads"
_SANDBOX_HEADER = (b"content-security-policy", SANDBOX_POLICY.encode("ascii"))

# Hop-by-hop headers, those the server computes itself, and those whose effect reaches
# past the script's own origin.
_DROPPED = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "upgrade",
        "proxy-connection",
        "te",
        "trailer",
        "x-isolane-invocation",
        "x-isolane-outcome",
        "clear-site-data",
    }
)
# Headers that act on the whole origin: by path, that origin is the platform's.
_DROPPED_BY_PATH = _DROPPED | {
    "service-worker-allowed",
    "strict-transport-security",
    "alt-svc",
    "origin-agent-cluster",
    "nel",
    "report-to",
    "accept-ch",
    "critical-ch",
    "set-login",
}
# What a platform page may not take from a tenant (`Sec-Fetch-Dest`): code that would run
# as the platform's origin.
_CODE_DESTINATIONS = frozenset(
    {b"script", b"style", b"worker", b"sharedworker", b"serviceworker", b"audioworklet", b"paintworklet", b"xslt"}
)

_HOST, _COOKIE, _SITE, _DEST, _SERVICE_WORKER = 0, 1, 2, 3, 4
_NOTED_REQUEST_HEADERS = {
    b"host": _HOST,
    b"cookie": _COOKIE,
    b"sec-fetch-site": _SITE,
    b"sec-fetch-dest": _DEST,
    b"service-worker": _SERVICE_WORKER,
}


def mount(namespace: str, script: str) -> str:
    """Where a script served by path lives on the platform's origin."""
    return f"/v1/namespaces/{namespace}/scripts/{script}/invoke"


def forwarded_headers(raw: list[tuple[bytes, bytes]], host: str, by_path: bool) -> list[list[str]]:
    """The request's headers as the script sees them: its own `host`, never the platform's
    cookies. Forbidden (403) when a platform page asks for the response as code."""
    headers: list[list[str]] = []
    site = dest = None
    service_worker = False
    for name, value in raw:
        noted = _NOTED_REQUEST_HEADERS.get(name)
        if noted is not None:
            if noted == _HOST:
                continue  # the script's own, below
            if noted == _COOKIE:
                if _PLATFORM_COOKIE_BYTES in value:
                    value = _without_platform_cookies(value)
                    if not value:
                        continue
            elif noted == _SITE:
                site = value
            elif noted == _DEST:
                dest = value
            else:
                service_worker = True
        headers.append([name.decode("latin-1"), value.decode("latin-1")])
    if by_path and (service_worker or (dest in _CODE_DESTINATIONS and (site == b"same-origin" or dest == b"serviceworker"))):
        raise Forbidden(
            "a script served by path shares the platform's origin: its responses cannot be loaded as a script,"
            " stylesheet or worker there (serve it on its own hostname)",
            code="subresource_refused",
        )
    headers.append(["host", host])
    return headers


def _without_platform_cookies(value: bytes) -> bytes:
    pairs = (pair.strip() for pair in value.split(b";"))
    return b"; ".join(pair for pair in pairs if pair and not pair.startswith(_PLATFORM_COOKIE_BYTES))


def response_headers(raw: Any, namespace: str, script: str, by_path: bool) -> list[tuple[bytes, bytes]]:
    """The script's response headers as they leave the platform (the caller adds
    `x-isolane-invocation`); `raw` is the script's list of (name, value)."""
    dropped = _DROPPED_BY_PATH if by_path else _DROPPED
    headers: list[tuple[bytes, bytes]] = []
    for name, value in raw:
        name = str(name).lower()
        if name in dropped:
            continue
        value = str(value)
        if name == "set-cookie":
            cookie = set_cookie(value, mount(namespace, script) if by_path else None)
            if cookie is None:
                continue
            value = cookie
        headers.append((name.encode("latin-1"), value.encode("latin-1")))
    if by_path:
        headers.append(_SANDBOX_HEADER)
    return headers


def set_cookie(value: str, prefix: str | None) -> str | None:
    """A script's `Set-Cookie`, host-only and, served by path, under the script's `prefix`
    (a missing or relative `Path` is the prefix itself); None for a platform cookie's name.

    Only the last `Path` counts (as in browsers), so every one is removed and one written."""
    pair, *attributes = value.split(";")
    if pair.lstrip().startswith(PLATFORM_COOKIE_PREFIX):
        return None
    kept = [pair.strip()]
    path: str | None = None
    for attribute in attributes:
        key, _, argument = attribute.partition("=")
        key = key.strip().lower()
        if key == "path":
            path = argument.strip()
        elif key and key != "domain":
            kept.append(attribute.strip())
    if prefix is not None:
        path = prefix + (path if path and path.startswith("/") else "/")
    if path is not None:
        kept.append(f"Path={path}")
    return "; ".join(kept)
