"""`/v1/namespaces/{ns}/usage`: invocations, errors, CPU and wall time, subrequests, per
hour and per script, counted from the invocation records (`observability/usage.py`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Query, Request

from isolane.clock import now_ms
from isolane.errors import BadRequest
from isolane.observability.usage import HOUR_MS, UsageQuery, hour_of, read_usage
from isolane.platform.names import validate_name
from isolane.server.access import Access, access
from isolane.server.models.common import errors
from isolane.server.models.usage import Usage
from isolane.server.responses import JSONResponse

router = APIRouter(prefix="/v1/namespaces/{ns}/usage", tags=["usage"])

DEFAULT_RANGE_MS = 24 * HOUR_MS
MAX_RANGE = timedelta(days=31)
# Times are answered back rounded to whole hours; a day's margin inside what datetime can
# show keeps that rounding from running past year 1 or 9999.
EARLIEST = datetime(2, 1, 1, tzinfo=UTC)
LATEST = datetime(9998, 12, 31, tzinfo=UTC)


def parse_time(value: str, name: str) -> int:
    """An ISO 8601 time (a date alone is its midnight; no offset means UTC) as epoch ms."""
    try:
        moment = datetime.fromisoformat(value.strip())
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if not EARLIEST <= moment <= LATEST:
            raise BadRequest(f"{name} is out of range: {value[:80]!r} (years 2 to 9998)", code="invalid_time")
        return int(moment.timestamp() * 1000)
    except (ValueError, OverflowError):
        raise BadRequest(
            f"{name} is not an ISO 8601 time: {value[:80]!r} (e.g. 2026-11-27T18:00:00Z)", code="invalid_time"
        ) from None


def usage_query(ns: str, since: str | None, until: str | None, script: str | None) -> UsageQuery:
    """The whole hours the request covers: every hour overlapping [since, until)."""
    end = parse_time(until, "until") if until is not None else now_ms()
    # By default the 24 whole hours that end with the one holding `until`.
    start = parse_time(since, "since") if since is not None else ceil_hour(end) - DEFAULT_RANGE_MS
    if start >= end:
        raise BadRequest("since must be earlier than until", code="invalid_range")
    if end - start > MAX_RANGE.total_seconds() * 1000:
        raise BadRequest(f"the range may span at most {MAX_RANGE.days} days", code="invalid_range")
    if script is not None:
        validate_name(script, "script")
    return UsageQuery(ns, hour_of(start), ceil_hour(end), script)


def ceil_hour(ms: int) -> int:
    return hour_of(ms + HOUR_MS - 1)


@router.get("", response_model=Usage, responses=errors(400), **access(Access.NAMESPACE))
async def get_usage(
    ns: str,
    request: Request,
    since: str | None = Query(None, max_length=64, description="ISO 8601; default: 24 hours before `until`"),
    until: str | None = Query(None, max_length=64, description="ISO 8601; default: now"),
    script: str | None = Query(None, max_length=64, description="only this script (a seed upload's id for /execute)"),
) -> JSONResponse:
    """Usage of the namespace in whole hours: `since` is rounded down and `until` up to the hour.
    `cpu_ms` is the sum of the invocation records' CPU plus what isolates ended by a limit
    burnt before they stopped (charged to the hour it was reported in)."""
    services = request.app.state.services
    query = usage_query(ns, since, until, script)
    await services.namespaces.get(ns)  # 404 for a namespace that does not exist
    return JSONResponse(await read_usage(services.db, query))
