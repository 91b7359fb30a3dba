"""`/v1/namespaces`: one per tenant. Admins create and delete; tokens see their own."""

from __future__ import annotations

from fastapi import APIRouter, Request

from isolane.server.access import Access, access, principal_of
from isolane.server.responses import JSONResponse

router = APIRouter(prefix="/v1/namespaces", tags=["namespaces"])


@router.get("", **access(Access.TOKEN))
async def list_namespaces(request: Request) -> JSONResponse:
    principal = principal_of(request)
    only = None if principal.is_admin else principal.namespace
    items = await request.app.state.services.namespaces.list(only)
    return JSONResponse({"items": items, "cursor": None})


@router.put("/{ns}", **access(Access.ADMIN))
async def put_namespace(ns: str, request: Request) -> JSONResponse:
    namespace, created = await request.app.state.services.namespaces.ensure(ns)
    return JSONResponse(namespace, status_code=201 if created else 200)


@router.get("/{ns}", **access(Access.NAMESPACE))
async def get_namespace(ns: str, request: Request) -> JSONResponse:
    return JSONResponse(await request.app.state.services.namespaces.get(ns))


@router.delete("/{ns}", **access(Access.ADMIN))
async def delete_namespace(ns: str, request: Request) -> JSONResponse:
    services = request.app.state.services
    await services.namespaces.delete(ns)
    await services.tokens.delete_for_namespace(ns)
    return JSONResponse({"name": ns, "deleted": True})
