"""`/v1/system`: the state of the machinery, for operators."""

from __future__ import annotations

from fastapi import APIRouter, Request

from isolane.server.access import Access, access
from isolane.server.responses import JSONResponse

router = APIRouter(prefix="/v1/system", tags=["system"])


@router.get("/executors", **access(Access.ADMIN))
async def executors(request: Request) -> JSONResponse:
    """The executor processes: their isolates, memory and restarts."""
    supervisor = request.app.state.services.supervisor
    return JSONResponse({"items": await supervisor.stats(), "restarts": supervisor.restarts, "cursor": None})
