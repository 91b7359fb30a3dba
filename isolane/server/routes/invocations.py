"""`/v1/invocations/{id}`: one invocation record; `/v1/namespaces/{ns}/scripts/{name}/invocations`:
a script's records, newest first, filtered and paged."""

from __future__ import annotations

import re

from fastapi import APIRouter, Query, Request

from isolane.errors import BadRequest, NotFound
from isolane.platform.names import validate_name
from isolane.sandbox.outcomes import OUTCOMES
from isolane.server.access import Access, access, principal_of
from isolane.server.models.common import Page, errors
from isolane.server.models.invocations import InvocationRecord
from isolane.server.responses import JSONResponse
from isolane.server.routes.usage import parse_time

router = APIRouter(prefix="/v1/invocations", tags=["invocations"])
script_router = APIRouter(prefix="/v1/namespaces/{ns}/scripts/{name}/invocations", tags=["invocations"])

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
TRIGGER = re.compile(r"[a-z][a-z0-9_-]{0,19}")
RECORD_ID = re.compile(r"[0-9a-f]{32}")


@router.get("/{invocation_id}", response_model=InvocationRecord, responses=errors(404), **access(Access.TOKEN))
async def get_invocation(invocation_id: str, request: Request) -> JSONResponse:
    """One invocation record: outcome, status, timings, subrequests, logs, error."""
    record = await request.app.state.services.records.get(invocation_id)
    if record is None or not principal_of(request).covers(record["namespace"]):
        raise NotFound(f"invocation {invocation_id[:80]!r} not found", code="invocation_not_found")
    return JSONResponse(record)


@script_router.get("", response_model=Page[InvocationRecord], responses=errors(400), **access(Access.NAMESPACE))
async def list_invocations(
    ns: str,
    name: str,
    request: Request,
    outcome: str | None = Query(None, max_length=32, description="only this outcome", json_schema_extra={"enum": sorted(OUTCOMES)}),
    trigger: str | None = Query(None, max_length=32, description="only this trigger: fetch, dispatch, outbound, cron or execute (seed)"),
    since: str | None = Query(None, max_length=64, description="ISO 8601, inclusive: records started at or after"),
    until: str | None = Query(None, max_length=64, description="ISO 8601, exclusive: records started before"),
    limit: str | None = Query(None, max_length=16, description=f"records per page, 1-{MAX_LIMIT} (default {DEFAULT_LIMIT})"),
    cursor: str | None = Query(None, max_length=64, description="the previous page's `cursor`"),
) -> JSONResponse:
    """The script's invocation records, newest first, as `GET /v1/invocations/{id}` shows
    them. Records outlive their script (until retention deletes them)."""
    validate_name(name, "script")
    if outcome is not None and outcome not in OUTCOMES:
        raise BadRequest(f"unknown outcome {outcome[:40]!r}: one of {', '.join(sorted(OUTCOMES))}", code="invalid_outcome")
    if trigger is not None and not TRIGGER.fullmatch(trigger):
        raise BadRequest(f"invalid trigger {trigger[:40]!r}", code="invalid_trigger")
    start = parse_time(since, "since") if since is not None else None
    end = parse_time(until, "until") if until is not None else None
    if start is not None and end is not None and start >= end:
        raise BadRequest("since must be earlier than until", code="invalid_range")
    count = DEFAULT_LIMIT
    if limit is not None:
        if not limit.strip().isdigit() or not 1 <= int(limit) <= MAX_LIMIT:
            raise BadRequest(f"limit must be an integer from 1 to {MAX_LIMIT}", code="invalid_limit")
        count = int(limit)
    if cursor is not None and not RECORD_ID.fullmatch(cursor):
        raise BadRequest("invalid cursor: pass the `cursor` of the previous page", code="invalid_cursor")
    services = request.app.state.services
    await services.namespaces.get(ns)  # 404 for a namespace that does not exist
    items, next_cursor = await services.records.list(
        ns, name, limit=count, cursor=cursor, outcome=outcome, trigger=trigger, since=start, until=end
    )
    return JSONResponse({"items": items, "cursor": next_cursor})
