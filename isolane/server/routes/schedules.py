"""`/v1/namespaces/{ns}/scripts/{name}/schedules`: a script's cron triggers, and a test run.

Schedules are script settings (changing them deploys nothing); see platform/schedules.py."""

from __future__ import annotations

from fastapi import APIRouter, Request

from isolane.platform.triggers import parse_schedules_body
from isolane.server.access import Access, access
from isolane.server.bodies import parse_json, read_limited
from isolane.server.models.common import Page, errors
from isolane.server.models.schedules import Schedule, SchedulesPut, ScheduleTestRequest, ScheduleTestResult
from isolane.server.openapi import json_body
from isolane.server.responses import JSONResponse

router = APIRouter(prefix="/v1/namespaces/{ns}/scripts/{name}/schedules", tags=["schedules"])

MAX_BODY_BYTES = 16 * 1024
SCHEDULES_CODES = {"object.crons:too_long": "too_many_schedules", "array:too_long": "too_many_schedules"}
# A body that is no JSON object keeps its code from before bodies were validated by the model.
TEST_CODES = {"": "invalid_json", "cron": "invalid_cron"}


@router.get("", response_model=Page[Schedule], **access(Access.NAMESPACE))
async def get_schedules(ns: str, name: str, request: Request) -> JSONResponse:
    """The script's cron triggers."""
    return JSONResponse({"items": await request.app.state.services.schedules.list(ns, name), "cursor": None})


@router.put(
    "",
    response_model=Page[Schedule],
    responses=errors(400, 413),
    openapi_extra={**access(Access.NAMESPACE)["openapi_extra"], **json_body(SchedulesPut)},
)
async def put_schedules(ns: str, name: str, request: Request) -> JSONResponse:
    """Replace the script's cron triggers: `{"crons": [...]}` or `[{"cron": "..."}]`."""
    body = await read_limited(request, MAX_BODY_BYTES, "body")
    crons = parse_schedules_body(parse_json(SchedulesPut, body, code="invalid_cron", codes=SCHEDULES_CODES))
    return JSONResponse({"items": await request.app.state.services.schedules.put(ns, name, crons), "cursor": None})


@router.post(
    "/test",
    response_model=ScheduleTestResult,
    responses=errors(400, 413),
    openapi_extra={**access(Access.NAMESPACE)["openapi_extra"], **json_body(ScheduleTestRequest, required=False)},
)
async def test_schedule(ns: str, name: str, request: Request) -> JSONResponse:
    """Run the script's scheduled handler once, now, and answer its outcome (200 whatever it
    is). `cron` defaults to the script's first schedule (or "" without one)."""
    body = await read_limited(request, MAX_BODY_BYTES, "body")
    asked = parse_json(ScheduleTestRequest, body, code="invalid_request", codes=TEST_CODES, optional=True)
    cron = (asked or {}).get("cron")
    result, record, cron, scheduled_time = await request.app.state.services.schedules.test(ns, name, cron)
    return JSONResponse(
        {
            "invocation_id": record.id,
            "cron": cron,
            "scheduled_time": scheduled_time,
            "outcome": record.outcome,
            "error": record.error,
            "logs": record.logs,
            "cpu_ms": record.cpu_ms,
            "wall_ms": record.wall_ms,
        },
        headers={"x-isolane-invocation": record.id},
    )
