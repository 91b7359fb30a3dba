"""Request ids and the access log: the outermost ASGI layer.

Each request gets an id (the caller's `x-request-id` when it is a plain token, else a new
one), returned in `x-request-id` and stamped on every log line written while it is served.
When it ends, one line says what happened: method, path (never the query string), status,
duration. Invocations are logged by script and record id instead of their path (the path
and query of a tenant's request are the tenant's), at DEBUG when they have a record, which
says the rest: at thousands of invocations a second the access line would cost ~5% of the
server's CPU and repeat the record.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Any

from isolane.observability.logs import request_id
from isolane.server.gateway import INVOCATION_SCOPE_KEY

log = logging.getLogger("isolane.access")

REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
INVOCATION_HEADER = b"x-isolane-invocation"


class RequestLog:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _incoming_id(scope) or secrets.token_hex(8)
        token = request_id.set(rid)
        rid_header = (b"x-request-id", rid.encode())
        started = time.perf_counter()
        status = 0
        invocation: bytes | None = None

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status, invocation
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                for name, value in headers:
                    if name == INVOCATION_HEADER:
                        invocation = value
                headers.append(rid_header)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            target = scope.get(INVOCATION_SCOPE_KEY)
            level = logging.DEBUG if invocation is not None else logging.INFO
            if log.isEnabledFor(level):
                fields: dict[str, Any] = {
                    "method": scope["method"],
                    "status": status or None,  # None: the client left before a response
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                }
                if target is None:
                    fields["path"] = scope["path"]
                else:
                    fields["script"] = target.label()
                    if invocation is not None:
                        fields["invocation"] = invocation.decode("latin-1")
                log.log(level, "request", extra=fields)
            request_id.reset(token)


def _incoming_id(scope: dict[str, Any]) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            return value.decode() if REQUEST_ID.fullmatch(value) else None
    return None
