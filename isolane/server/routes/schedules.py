"""`/v1/namespaces/{ns}/scripts/{name}/schedules`: a script's cron triggers, and a test run.

Schedules are script settings (changing them deploys nothing); see platform/schedules.py."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request

from isolane.errors import BadRequest
from isolane.platform.cron import MAX_EXPRESSION_LENGTH
from isolane.platform.triggers import MAX_SCHEDULES, parse_schedules_body
from isolane.server.access import Access, access
from isolane.server.bodies import read_limited
from isolane.server.responses import JSONResponse

router = APIRouter(prefix="/v1/namespaces/{ns}/scripts/{name}/schedules", tags=["schedules"])

MAX_BODY_BYTES = 16 * 1024
_CRON = {"type": "string", "maxLength": MAX_EXPRESSION_LENGTH, "example": "*/5 * * * *"}
SCHEDULES_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"type": "object", "required": ["crons"], "properties": {"crons": {"type": "array", "maxItems": MAX_SCHEDULES, "items": _CRON}}},
                        {"type": "array", "maxItems": MAX_SCHEDULES, "items": {"type": "object", "required": ["cron"], "properties": {"cron": _CRON}}},
                    ]
                }
            }
        },
    }
}
TEST_BODY = {
    "requestBody": {
        "required": False,
        "content": {"application/json": {"schema": {"type": "object", "properties": {"cron": _CRON}}}},
    }
}


async def _json(request: Request, example: str) -> Any:
    body = await read_limited(request, MAX_BODY_BYTES, "body")
    if not body.strip():
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest(f"the body must be JSON, e.g. {example}", code="invalid_json") from None


@router.get("", **access(Access.NAMESPACE))
async def get_schedules(ns: str, name: str, request: Request) -> JSONResponse:
    """The script's cron triggers."""
    return JSONResponse({"items": await request.app.state.services.schedules.list(ns, name), "cursor": None})


@router.put("", openapi_extra={**access(Access.NAMESPACE)["openapi_extra"], **SCHEDULES_BODY})
async def put_schedules(ns: str, name: str, request: Request) -> JSONResponse:
    """Replace the script's cron triggers: `{"crons": [...]}` or `[{"cron": "..."}]`."""
    crons = parse_schedules_body(await _json(request, '{"crons": ["*/5 * * * *"]}'))
    return JSONResponse({"items": await request.app.state.services.schedules.put(ns, name, crons), "cursor": None})


@router.post("/test", openapi_extra={**access(Access.NAMESPACE)["openapi_extra"], **TEST_BODY})
async def test_schedule(ns: str, name: str, request: Request) -> JSONResponse:
    """Run the script's scheduled handler once, now, and answer its outcome (200 whatever it
    is). `cron` defaults to the script's first schedule (or "" without one)."""
    body = await _json(request, '{"cron": "*/5 * * * *"}')
    if body is not None and not isinstance(body, dict):
        raise BadRequest('the body must be a JSON object, e.g. {"cron": "*/5 * * * *"}', code="invalid_json")
    cron = (body or {}).get("cron")
    if cron is not None and not isinstance(cron, str):
        raise BadRequest("cron must be a string", code="invalid_cron")
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
