"""`/v1/namespaces/{ns}/scripts/{name}/tail`: a script's invocation records as they complete,
as Server-Sent Events (like `wrangler tail`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager

import orjson
from fastapi import APIRouter, Query, Request
from starlette.responses import StreamingResponse

from isolane.errors import BadRequest
from isolane.observability.tail import TailEvent, TailSubscription
from isolane.platform.names import validate_name
from isolane.server.access import Access, access, bearer_secret
from isolane.server.models.common import errors
from isolane.server.routes.invocations import OUTCOMES

router = APIRouter(prefix="/v1/namespaces/{ns}/scripts/{name}/tail", tags=["invocations"])

KEEP_ALIVE_SECONDS = 15.0
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def parse_outcomes(value: str | None) -> frozenset[str] | None:
    if value is None or not value.strip():
        return None
    outcomes = frozenset(part.strip() for part in value.split(",") if part.strip())
    unknown = sorted(outcomes - OUTCOMES)
    if unknown:
        raise BadRequest(
            f"unknown outcome {unknown[0][:40]!r}: a comma-separated list of {', '.join(sorted(OUTCOMES))}",
            code="invalid_outcome",
        )
    return outcomes


def parse_sample(value: str | None) -> float:
    if value is None:
        return 1.0
    try:
        sample = float(value)
    except ValueError:
        sample = -1.0
    if not 0.0 < sample <= 1.0:  # also refuses nan
        raise BadRequest("sample must be a number greater than 0 and at most 1, e.g. 0.1", code="invalid_sample")
    return sample


def sse(event: str, data: bytes, event_id: str | None = None) -> bytes:
    """One Server-Sent Event; `data` is JSON (orjson never writes a raw newline)."""
    head = f"event: {event}\n" + (f"id: {event_id}\n" if event_id else "") + "data: "
    return b"".join((head.encode(), data, b"\n\n"))  # one copy of a record that may be a megabyte


def sse_response(
    subscribe: AbstractAsyncContextManager[TailSubscription],
    allowed: Callable[[], Awaitable[bool]] | None = None,
    request: Request | None = None,
) -> StreamingResponse:
    """Stream a subscription's events until the client leaves (noticed at once through
    `request`, else at the next write), the server stops, or `allowed` (asked before each
    event and keep-alive) says the caller may no longer see them.

    The response is built before the subscription starts: errors in the request are raised
    by the caller first, as JSON."""

    async def stream() -> AsyncIterator[bytes]:
        async with subscribe as subscription:
            if request is not None:
                watcher = asyncio.ensure_future(_close_on_disconnect(request, subscription))
                subscription.on_close(watcher.cancel)
            connected = {
                "namespace": subscription.namespace,
                "script": subscription.script,
                "outcomes": sorted(subscription.outcomes) if subscription.outcomes is not None else None,
                "sample": subscription.sample,
            }
            yield sse("connected", orjson.dumps(connected))
            while True:
                event: TailEvent | None = await subscription.next(timeout=KEEP_ALIVE_SECONDS)
                if subscription.closed and event is None:
                    return
                if allowed is not None and not await allowed():
                    return
                yield sse(event.kind, event.json(), event.id) if event is not None else b": keep-alive\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream", headers=SSE_HEADERS)


EVENT_STREAM = {
    200: {
        "description": "Server-Sent Events: `connected`, then `invocation` and `dropped` events",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


@router.get("", response_class=StreamingResponse, responses={**EVENT_STREAM, **errors(400, 429)}, **access(Access.NAMESPACE))
async def tail(
    ns: str,
    name: str,
    request: Request,
    outcome: str | None = Query(
        None, max_length=200, description="only these outcomes, comma-separated: " + ", ".join(sorted(OUTCOMES))
    ),
    sample: str | None = Query(None, max_length=32, description="the fraction of records to send, 0 < sample <= 1 (default 1)"),
) -> StreamingResponse:
    """Server-Sent Events: `connected` once, then `invocation` (id: the record's id; data: the
    record as `GET /v1/invocations/{id}` shows it) for each invocation as it completes, on
    this server or any other sharing the store; `dropped` (`{"dropped", "total_dropped"}`)
    when a slow consumer missed records (a stream's buffer holds at most 256 records and
    8 MiB, a namespace's streams 16 MiB and a server's 64 MiB); a `: keep-alive` comment
    every 15 s of silence. The stream ends when the token is revoked or the namespace
    deleted. At most 10 tails per script and 50 per namespace are open on a server (429
    `too_many_tails`)."""
    validate_name(name, "script")
    outcomes = parse_outcomes(outcome)
    fraction = parse_sample(sample)
    services = request.app.state.services
    await services.scripts.get(ns, name)  # 404 for an unknown namespace or script
    services.tail.admit(ns, name)  # 429 past the limits of open tails
    subscribe = services.tail.subscribe(ns, name, outcomes=outcomes, sample=fraction)
    return sse_response(subscribe, _still_allowed(request, ns), request)


async def _close_on_disconnect(request: Request, subscription: TailSubscription) -> None:
    """Starlette's streaming response (ASGI 2.4) learns of a gone client only when a write
    fails, up to a keep-alive later; this ends the subscription when the client leaves."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
    subscription.close()


def _still_allowed(request: Request, ns: str) -> Callable[[], Awaitable[bool]] | None:
    """Whether the stream's token still holds (not revoked; checked through the tokens'
    short cache, so a revoked token's stream ends within seconds, on every server)."""
    secret = bearer_secret(request)
    if secret is None:  # --insecure-no-auth
        return None
    tokens = request.app.state.services.tokens

    async def allowed() -> bool:
        principal = await tokens.authenticate(secret)
        return principal is not None and principal.covers(ns)

    return allowed
