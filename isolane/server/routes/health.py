from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import text

from isolane.errors import Unavailable
from isolane.observability.metrics import CONTENT_TYPE
from isolane.server.access import Access, access
from isolane.server.models.common import errors
from isolane.server.models.system import Health, Ready

router = APIRouter(tags=["health"])

READY_DB_TIMEOUT_SECONDS = 2.0


@router.get("/healthz", response_model=Health, **access(Access.PUBLIC))
async def healthz() -> dict[str, str]:
    """Liveness: the server process answers."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Ready, responses=errors(503), **access(Access.PUBLIC))
async def readyz(request: Request) -> dict[str, object]:
    """Readiness: the database answers and at least one executor is alive (else 503); and
    the confinement the executors run in."""
    services = request.app.state.services
    try:
        async with asyncio.timeout(READY_DB_TIMEOUT_SECONDS):
            async with services.db.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to answer means not ready
        raise Unavailable(f"the database does not answer: {type(exc).__name__}", code="database_unavailable") from None
    executors = services.supervisor.alive()
    if executors < 1:
        raise Unavailable("no executor is alive", code="no_executors")
    return {"status": "ready", "executors_alive": executors, "sandbox": services.supervisor.layers.as_dict()}


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus text exposition format."}},
    **access(Access.ADMIN),
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics (names prefixed `isolane_`); needs an admin token."""
    services = request.app.state.services
    executors = await services.supervisor.stats()
    body = services.runner.metrics.render(
        executors,
        services.supervisor.restarts,
        records_dropped=services.records.dropped,
        tail_subscribers=services.tail.subscribers,
        tail_dropped=services.tail.dropped,
        retirements=services.supervisor.retirements,
        queued=services.runner.admission.queued if services.runner.admission else 0,
        refused=services.runner.admission.refused if services.runner.admission else 0,
        tail_buffered_bytes=services.tail.buffered_bytes,
    )
    return Response(body, media_type=CONTENT_TYPE)
