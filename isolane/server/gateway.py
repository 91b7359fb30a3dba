"""The invocation gateway: HTTP requests for a tenant's script, by path or by hostname.

    /v1/namespaces/{ns}/scripts/{name}/invoke[/{path}]     (any method, no token)
    Host: {name}.{ns}.{dispatch domain}                      (any path)

It sits in front of the management API as plain ASGI, because this is the hot path: no
routing tables, no dependency injection, one lookup of the deployed version (cached),
one round trip to an executor. A namespace with a dispatch worker (platform/dispatch.py)
has all its requests served by that worker instead. The script sees `http://{name}.{ns}.{domain}/{path}?{query}`.
The response goes back as soon as the handler returns it; `ctx.waitUntil` work and the
invocation record finish afterwards.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from base64 import b64decode, b64encode
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson

from isolane.errors import IsolaneError, NotFound, PayloadTooLarge, Unavailable
from isolane.observability.records import new_record_id
from isolane.platform.dispatch import as_dispatcher, context_for
from isolane.platform.names import DNS_LABEL
from isolane.platform.runner import ERROR_STATUS
from isolane.platform.scripts import Deployment
from isolane.sandbox.outcomes import Outcome
from isolane.sandbox.supervisor import BodyError
from isolane.server.errors import shutting_down_response, unexpected_error_response
from isolane.server.tenant_headers import forwarded_headers, response_headers

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]

PATH_PREFIX = b"/v1/namespaces/"
ROLLOUT_KEY = b"x-isolane-rollout-key"  # picks the version of a split deployment (sticky)
_ERROR_CODES = {
    Outcome.EXCEPTION: ("worker_exception", "The script threw an exception."),
    Outcome.EXCEEDED_CPU: ("exceeded_cpu", "The script exceeded its CPU time limit."),
    Outcome.EXCEEDED_MEMORY: ("exceeded_memory", "The script exceeded its memory limit."),
    Outcome.EXCEEDED_WALL_TIME: ("exceeded_wall_time", "The script exceeded its wall-clock time limit."),
    Outcome.CANCELED: ("canceled", "The invocation was canceled by the platform."),
}


class Target:
    __slots__ = ("namespace", "script", "path", "by_path")

    def __init__(self, namespace: str, script: str, path: str, by_path: bool = False) -> None:
        self.namespace = namespace
        self.script = script
        self.path = path  # raw (still percent-encoded), starting with "/"
        self.by_path = by_path  # on the platform's own origin (server/tenant_headers.py)

    def label(self) -> str:
        """`ns/script` for logs; "-" when the names are not valid (never log what they are)."""
        valid = DNS_LABEL.fullmatch(self.namespace) and DNS_LABEL.fullmatch(self.script)
        return f"{self.namespace}/{self.script}" if valid else "-"


def target_from_path(raw_path: bytes) -> Target | None:
    """`/v1/namespaces/{ns}/scripts/{name}/invoke[/rest]`, else None."""
    if not raw_path.startswith(PATH_PREFIX):
        return None
    parts = raw_path[len(PATH_PREFIX) :].split(b"/", 4)
    if len(parts) < 4 or parts[1] != b"scripts" or parts[3] != b"invoke":
        return None
    rest = b"/" + parts[4] if len(parts) == 5 else b"/"
    return Target(parts[0].decode("latin-1"), parts[2].decode("latin-1"), rest.decode("latin-1"), by_path=True)


def target_from_host(host: str, domain: str, raw_path: bytes) -> Target | None:
    """`{name}.{ns}.{domain}` (port ignored), else None."""
    host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    host = host.lower().rstrip(".")
    suffix = "." + domain
    if not domain or not host.endswith(suffix):
        return None
    labels = host[: -len(suffix)].split(".")
    if len(labels) != 2 or not all(DNS_LABEL.fullmatch(label) for label in labels):
        return None
    return Target(labels[1], labels[0], raw_path.decode("latin-1") or "/")


async def send_json(send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None) -> None:
    payload = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def request_body(scope: Scope, receive: Receive, limit: int) -> tuple[bytes | None, AsyncIterator[bytes] | None]:
    """The body whole when it came in one piece, else an iterator that streams it on."""
    declared = _header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the request body is over the limit of {limit} bytes", code="request_too_large", limit=limit)
    first = await receive()
    if first["type"] == "http.disconnect":
        return b"", None
    body = first.get("body", b"")
    if len(body) > limit:
        raise PayloadTooLarge(f"the request body is over the limit of {limit} bytes", code="request_too_large", limit=limit)
    if not first.get("more_body", False):
        return body, None

    async def rest() -> AsyncIterator[bytes]:
        size = len(body)
        yield body
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise BodyError("the client went away before sending the whole request body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyError(f"the request body is over the limit of {limit} bytes")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return

    return None, rest()


INVOCATION_SCOPE_KEY = "isolane.invocation"


class InvocationGateway:
    """ASGI middleware: invocations are served here, everything else goes on to `app`."""

    def __init__(self, app: Any, services: Callable[[], Any]) -> None:
        self.app = app
        self._services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope["path"].encode("latin-1")
        raw_path = raw_path.split(b"?", 1)[0]
        target = target_from_path(raw_path)
        if target is None:
            services = self._services()
            host = _header(scope, b"host")
            if host is not None:
                target = target_from_host(host, services.settings.dispatch_domain, raw_path)
        if target is None:
            await self.app(scope, receive, send)
            return
        # For the access log (server/request_log.py): an invocation, not a path to log;
        # labelled only if a line is written.
        scope[INVOCATION_SCOPE_KEY] = target
        started = False

        async def send_tracked(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._invoke(target, scope, receive, send_tracked)
        except asyncio.CancelledError:
            if not started:  # the server stops and its grace ran out: say so, not a plain 500
                await shutting_down_response()(scope, receive, send)
            raise
        except IsolaneError as exc:
            await send_json(send, exc.status, exc.to_body(), [(k.encode(), v.encode()) for k, v in exc.headers.items()])
        except Exception as exc:
            log.error("invocation of %s/%s failed", target.namespace, target.script)
            response = unexpected_error_response(scope.get("method", ""), scope.get("path", ""), exc)
            await response(scope, receive, send)

    async def _invoke(self, target: Target, scope: Scope, receive: Receive, send: Send) -> None:
        services = self._services()
        settings = services.settings
        if not (DNS_LABEL.fullmatch(target.namespace) and DNS_LABEL.fullmatch(target.script)):
            raise NotFound(f"script {target.script[:80]!r} not found in namespace {target.namespace[:80]!r}", code="script_not_found")
        deployment = await self._deployment(services, target, _header(scope, ROLLOUT_KEY) or None)
        if "fetch" not in deployment.handlers:
            raise NotFound(
                f"script {target.script!r} has no fetch handler (its handlers: {', '.join(deployment.handlers) or 'none'})",
                code="no_fetch_handler",
            )
        await services.rates.admit(target.namespace)  # 429 over the namespace's request rate
        body, body_stream = await request_body(scope, receive, settings.max_request_bytes)
        host = f"{target.script}.{target.namespace}.{settings.dispatch_domain}"
        query = scope.get("query_string", b"")
        url = f"http://{host}{target.path}" + (f"?{query.decode('latin-1')}" if query else "")
        headers = forwarded_headers(scope["headers"], host, target.by_path)
        call = {
            "op": "fetch",
            "method": scope["method"],
            "url": url,
            "headers": headers,
            "body": b64encode(body).decode("ascii") if body else None,
            "stream": body_stream is not None,
        }
        await self._run(services, target, deployment, call, body_stream, receive, send)

    @staticmethod
    async def _deployment(services: Any, target: Target, rollout_key: str | None) -> Deployment:
        """The script that serves the request: the namespace's dispatch worker when it has
        one (for every request, by hostname or by path), else the script itself."""
        policy = await services.namespaces.policy(target.namespace)
        if policy is None or policy.dispatcher is None:
            return await services.scripts.deployed(target.namespace, target.script, rollout_key)
        namespace, name = policy.dispatcher
        try:
            dispatcher = await services.scripts.deployed(namespace, name, rollout_key)
        except NotFound as exc:
            raise Unavailable(f"the dispatch worker of namespace {target.namespace!r} is not deployed", code="dispatcher_unavailable") from exc
        return as_dispatcher(dispatcher, target.namespace)

    async def _run(
        self,
        services: Any,
        target: Target,
        deployment: Deployment,
        call: dict[str, Any],
        body: AsyncIterator[bytes] | None,
        receive: Receive,
        send: Send,
    ) -> None:
        loop = asyncio.get_running_loop()
        events = _Events(loop)

        async def load_code() -> Any:
            return await services.scripts.code(deployment)

        record_id = new_record_id()
        run = loop.create_task(
            services.runner.run(
                deployment.ref,
                deployment.limits,
                "fetch",
                load_code,
                call=call,
                on_event=events.put,
                body=body,
                source_map=await services.scripts.source_map(deployment),
                record_id=record_id,
                context=context_for(deployment, services),
                tenant=target.namespace,  # a dispatcher runs in the slot of the namespace it serves
            )
        )
        run.add_done_callback(events.end)
        head = await events.next()
        if head is None or head["event"] != "response":  # it failed before responding
            result, _ = run.result()
            outcome = result.outcome if result.outcome is not Outcome.OK else Outcome.EXCEPTION
            code, message = _ERROR_CODES[outcome]
            await send_json(
                send,
                ERROR_STATUS[outcome],
                {"error": {"code": code, "message": message, "outcome": result.outcome.value, "invocation_id": record_id}},
                [(b"x-isolane-invocation", record_id.encode()), (b"x-isolane-outcome", outcome.value.encode())],
            )
            return
        if not run.done():  # the invocation goes on (waitUntil, a streamed body)
            services.background.add(run)
            run.add_done_callback(services.background.discard)
        response = head["response"]
        body_spec = response.get("body")
        if body_spec is None or "stream" not in body_spec:
            await _send_whole(send, response, record_id, target)
            return
        await send({"type": "http.response.start", "status": int(response.get("status", 200)), "headers": _headers(response, record_id, target)})
        # A client that goes away ends the invocation (once its request body has been read:
        # until then, receive() belongs to the body's reader).
        watcher = asyncio.ensure_future(_disconnected(receive, head["cancel"])) if body is None else None
        try:
            while (event := await events.next()) is not None:
                for chunk in event["chunks"]:
                    data = b64decode(chunk)
                    await send({"type": "http.response.body", "body": data, "more_body": True})
                    event["ack"](len(data))
        finally:
            if watcher is not None:
                watcher.cancel()
        result, _ = run.result()
        if result.outcome is Outcome.OK:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        # Otherwise the response stays unfinished: the server closes the connection, and
        # the client sees a truncated body rather than a complete wrong one.


async def _disconnected(receive: Receive, cancel: Callable[[], None]) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    cancel()


class _Events:
    """An invocation's events, in order, until it has ended (lighter than a Queue + wait)."""

    __slots__ = ("_ended", "_items", "_loop", "_waiter")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._items: deque[dict[str, Any]] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._ended = False

    def put(self, event: dict[str, Any]) -> None:
        self._items.append(event)
        self._wake()

    def end(self, _run: object = None) -> None:
        self._ended = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def next(self) -> dict[str, Any] | None:
        """The next event, or None once the invocation has ended with none left."""
        while not self._items:
            if self._ended:
                return None
            self._waiter = self._loop.create_future()
            await self._waiter
            self._waiter = None
        return self._items.popleft()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def _headers(response: dict[str, Any], record_id: str, target: Target) -> list[tuple[bytes, bytes]]:
    headers = response_headers(response.get("headers", []), target.namespace, target.script, target.by_path)
    headers.append((b"x-isolane-invocation", record_id.encode()))
    return headers


async def _send_whole(send: Send, response: dict[str, Any], record_id: str, target: Target) -> None:
    body_spec = response.get("body")
    if body_spec is None:
        body = b""
    elif "text" in body_spec:
        body = body_spec["text"].encode("utf-8")
    else:
        body = b64decode(body_spec["base64"])
    headers = _headers(response, record_id, target)
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": int(response.get("status", 200)), "headers": headers})
    await send({"type": "http.response.body", "body": body})
