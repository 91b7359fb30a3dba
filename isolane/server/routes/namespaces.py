"""`/v1/namespaces`: one per tenant. Admins create and delete; tokens see their own."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request

from isolane.errors import BadRequest
from isolane.platform.quotas import LIMIT_NAMES, QUOTA_NAMES, parse_changes
from isolane.server.access import Access, access, principal_of
from isolane.server.bodies import read_limited
from isolane.server.responses import JSONResponse

router = APIRouter(prefix="/v1/namespaces", tags=["namespaces"])

MAX_SETTINGS_BODY = 16 * 1024
_SETTINGS_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "limits": {"type": ["object", "null"], "properties": {name: {"type": "integer"} for name in LIMIT_NAMES}},
                        "quotas": {"type": ["object", "null"], "properties": {name: {"type": "number"} for name in QUOTA_NAMES}},
                        "dispatcher": {"type": ["string", "null"], "description": "{namespace}/{script}: the dispatch worker"},
                        "outbound": {"type": ["string", "null"], "description": "{namespace}/{script}: the outbound worker"},
                    },
                }
            }
        },
    }
}


@router.get("", **access(Access.TOKEN))
async def list_namespaces(request: Request) -> JSONResponse:
    """Namespaces the caller may see: all for admins, its own for a namespace token."""
    principal = principal_of(request)
    only = None if principal.is_admin else principal.namespace
    items = await request.app.state.services.namespaces.list(only)
    return JSONResponse({"items": items, "cursor": None})


@router.put("/{ns}", openapi_extra={**access(Access.ADMIN)["openapi_extra"], **_SETTINGS_BODY})
async def put_namespace(ns: str, request: Request) -> JSONResponse:
    """Create (201) or confirm (200) a namespace; an optional body `{"limits", "quotas",
    "dispatcher", "outbound"}` replaces those of its settings it names."""
    services = request.app.state.services
    body = await read_limited(request, MAX_SETTINGS_BODY, "body")
    changes = None
    if body.strip():
        try:
            changes = parse_changes(orjson.loads(body), ns)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"the body is not valid JSON: {exc}", code="invalid_json") from exc
    namespace, created = await services.namespaces.ensure(ns, changes)
    if changes:  # this server follows at once; others within a second
        services.scripts.forget_namespace(ns)
        services.rates.forget(ns)
    return JSONResponse(namespace, status_code=201 if created else 200)


@router.get("/{ns}", **access(Access.NAMESPACE))
async def get_namespace(ns: str, request: Request) -> JSONResponse:
    """The namespace: `script_count`, `limits`, `quotas`, `dispatcher`, `outbound` (404 for a token that does not
    cover it)."""
    return JSONResponse(await request.app.state.services.namespaces.get(ns))


@router.delete("/{ns}", **access(Access.ADMIN))
async def delete_namespace(ns: str, request: Request) -> JSONResponse:
    """Delete the namespace with its scripts and tokens (`default` is protected: 409)."""
    services = request.app.state.services
    await services.namespaces.delete(ns)
    await services.tokens.delete_for_namespace(ns)
    return JSONResponse({"name": ns, "deleted": True})
