from __future__ import annotations

from fastapi import APIRouter

from isolane.server.access import Access, access

router = APIRouter(tags=["health"])


@router.get("/healthz", **access(Access.PUBLIC))
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
