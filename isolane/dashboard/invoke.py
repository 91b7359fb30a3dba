"""The invoke form: a request built from the form, run through the invocation gateway in
process (the same path an HTTP invocation takes: deployment lookup, dispatch worker, rate
limit, runner, record), with the response collected for display."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from isolane.errors import BadRequest
from isolane.server.gateway import InvocationGateway

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}")
MAX_HEADERS = 50
MAX_HEADER_VALUE = 8192
MAX_PATH = 2048
MAX_SHOWN_BYTES = 256 * 1024  # of the response body; a longer one is cut (and its invocation ended)
PATH_SAFE = "/%:@!$&'()*+,;=-._~"
QUERY_SAFE = PATH_SAFE + "?"


@dataclass(frozen=True, slots=True)
class InvokeRequest:
    method: str = "GET"
    path: str = "/"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    headers_text: str = ""  # as typed, to fill the form again

    @property
    def body_text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass(slots=True)
class InvokeResult:
    status: int = 0
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    total_bytes: int = 0

    @property
    def truncated(self) -> bool:
        return self.total_bytes > len(self.body)

    @property
    def body_text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def record_id(self) -> str | None:
        return next((value for name, value in self.headers if name == "x-isolane-invocation"), None)

    @property
    def outcome(self) -> str | None:
        return next((value for name, value in self.headers if name == "x-isolane-outcome"), None)


def parse_invoke_form(form: dict[str, str], max_body: int) -> InvokeRequest:
    """The form's request, checked; BadRequest (nothing runs) on anything malformed."""
    method = form.get("method", "GET").strip().upper()
    if method not in METHODS:
        raise BadRequest(f"method must be one of {', '.join(METHODS)}", code="invalid_method")
    path = form.get("path", "").strip() or "/"
    if not path.startswith("/") or len(path) > MAX_PATH or any(ord(c) < 0x20 or c == "\x7f" for c in path):
        raise BadRequest(f"the path must start with '/' (at most {MAX_PATH} characters, no control characters)", code="invalid_path")
    headers_text = form.get("headers", "")
    headers: list[tuple[str, str]] = []
    for number, line in enumerate(headers_text.splitlines(), 1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        name, value = name.strip(), value.strip()
        if not colon or not HEADER_NAME.fullmatch(name):
            raise BadRequest(f"header line {number} is not 'Name: value'", code="invalid_header")
        if len(value) > MAX_HEADER_VALUE or any(ord(c) < 0x20 and c != "\t" for c in value):
            raise BadRequest(f"the value of header {name!r} is too long or has control characters", code="invalid_header")
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise BadRequest(f"the value of header {name!r} must be Latin-1 text", code="invalid_header") from None
        headers.append((name.lower(), value))
    if len(headers) > MAX_HEADERS:
        raise BadRequest(f"at most {MAX_HEADERS} headers", code="invalid_header")
    body = form.get("body", "").encode("utf-8")
    if len(body) > max_body:
        raise BadRequest(f"the body is over {max_body} bytes", code="request_too_large")
    if method in ("GET", "HEAD") and body:
        raise BadRequest(f"a {method} request cannot have a body", code="invalid_body")
    return InvokeRequest(method, path, tuple(headers), body, headers_text)


def _unreachable_app(*_: Any) -> Any:
    raise AssertionError("the dashboard only sends invocations through the gateway")


async def invoke(services: Any, namespace: str, script: str, request: InvokeRequest) -> InvokeResult:
    """Run `request` against the script as the gateway would serve it over HTTP."""
    gateway = InvocationGateway(_unreachable_app, services=lambda: services)
    path, _, query = request.path.partition("?")
    raw_path = f"/v1/namespaces/{namespace}/scripts/{script}/invoke{quote(path, safe=PATH_SAFE)}".encode("ascii")
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in request.headers if name != "content-length"]
    if request.body:
        headers.append((b"content-length", str(len(request.body)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": "http",
        "path": raw_path.decode("ascii"),
        "raw_path": raw_path,
        "query_string": quote(query, safe=QUERY_SAFE).encode("ascii"),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 0),
    }
    result = InvokeResult()
    finished = asyncio.Event()  # the dashboard has what it shows: the "client" goes away
    sent_body = False

    async def receive() -> dict[str, Any]:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": request.body, "more_body": False}
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            result.status = int(message["status"])
            result.headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in message.get("headers", [])]
        elif message["type"] == "http.response.body":
            chunk = message.get("body", b"")
            result.total_bytes += len(chunk)
            room = MAX_SHOWN_BYTES - len(result.body)
            if room > 0:
                result.body += chunk[:room]
            if result.total_bytes > MAX_SHOWN_BYTES:
                finished.set()  # a body this long is not read on: end the invocation

    try:
        await gateway(scope, receive, send)
    finally:
        finished.set()
    return result
