"""`/v1/namespaces/{ns}/scripts/{name}/tail`: a script's invocation records as they complete,
as Server-Sent Events (like `wrangler tail`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager

import orjson
from fastapi import APIRouter, Query, Request
from starlette.responses import StreamingResponse

from isolane.errors import BadRequest
from isolane.observability.tail import TailEvent, TailSubscription
from isolane.platform.names import validate_name
from isolane.server.access import Access, access
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


def sse(event: str, data: dict[str, object], event_id: str | None = None) -> bytes:
    head = f"event: {event}\n" + (f"id: {event_id}\n" if event_id else "")
    return head.encode() + b"data: " + orjson.dumps(data) + b"\n\n"


def sse_response(subscribe: AbstractAsyncContextManager[TailSubscription]) -> StreamingResponse:
    """Stream a subscription's events until the client leaves or the server stops.

    The response is built before the subscription starts: errors in the request are raised
    by the caller first, as JSON."""

    async def stream() -> AsyncIterator[bytes]:
        async with subscribe as subscription:
            yield sse(
                "connected",
                {
                    "namespace": subscription.namespace,
                    "script": subscription.script,
                    "outcomes": sorted(subscription.outcomes) if subscription.outcomes is not None else None,
                    "sample": subscription.sample,
                },
            )
            while True:
                event: TailEvent | None = await subscription.next(timeout=KEEP_ALIVE_SECONDS)
                if event is not None:
                    yield sse(event.kind, event.data, event.id)
                elif subscription.closed:
                    return
                else:
                    yield b": keep-alive\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream", headers=SSE_HEADERS)


@router.get("", **access(Access.NAMESPACE))
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
    when a slow consumer missed records; a `: keep-alive` comment every 15 s of silence."""
    validate_name(name, "script")
    outcomes = parse_outcomes(outcome)
    fraction = parse_sample(sample)
    services = request.app.state.services
    await services.scripts.get(ns, name)  # 404 for an unknown namespace or script
    return sse_response(services.tail.subscribe(ns, name, outcomes=outcomes, sample=fraction))
