"""`/v1/invocations/{id}`: one invocation record."""

from __future__ import annotations

from fastapi import APIRouter, Request

from isolane.errors import NotFound
from isolane.server.access import Access, access, principal_of
from isolane.server.responses import JSONResponse

router = APIRouter(prefix="/v1/invocations", tags=["invocations"])


@router.get("/{invocation_id}", **access(Access.TOKEN))
async def get_invocation(invocation_id: str, request: Request) -> JSONResponse:
    record = await request.app.state.services.records.get(invocation_id)
    if record is None or not principal_of(request).covers(record["namespace"]):
        raise NotFound(f"invocation {invocation_id[:80]!r} not found", code="invocation_not_found")
    return JSONResponse(record)
