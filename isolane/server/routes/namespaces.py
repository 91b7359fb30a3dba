"""`/v1/namespaces`: one per tenant. Admins create and delete; tokens see their own."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request

from isolane.platform.quotas import parse_changes
from isolane.server.access import Access, access, principal_of
from isolane.server.bodies import parse_json, read_limited
from isolane.server.models.common import Page, also, errors
from isolane.server.models.namespaces import Namespace, NamespaceDeleted, NamespaceSettings
from isolane.server.openapi import json_body
from isolane.server.responses import JSONResponse

router = APIRouter(prefix="/v1/namespaces", tags=["namespaces"])
log = logging.getLogger(__name__)

MAX_SETTINGS_BODY = 16 * 1024
# A refused limit or quota is named (`"limit": "cpu"`), as platform/quotas.py names them.
SETTINGS_CODES = {
    "limits": ("invalid_limit", "limit"),
    "quotas": ("invalid_quota", "quota"),
    "dispatcher": "invalid_dispatcher",
    "outbound": "invalid_outbound",
}


@router.get("", response_model=Page[Namespace], **access(Access.TOKEN))
async def list_namespaces(request: Request) -> JSONResponse:
    """Namespaces the caller may see: all for admins, its own for a namespace token."""
    principal = principal_of(request)
    only = None if principal.is_admin else principal.namespace
    items = await request.app.state.services.namespaces.list(only)
    return JSONResponse({"items": items, "cursor": None})


@router.put(
    "/{ns}",
    status_code=201,
    response_model=Namespace,
    responses={**also(200, Namespace, "The namespace existed (its settings updated)"), **errors(400, 409, 413)},
    openapi_extra={**access(Access.ADMIN)["openapi_extra"], **json_body(NamespaceSettings, required=False)},
)
async def put_namespace(ns: str, request: Request) -> JSONResponse:
    """Create (201) or confirm (200) a namespace; an optional body `{"limits", "quotas",
    "dispatcher", "outbound"}` replaces those of its settings it names. A name whose
    namespace was deleted less than 3 s ago is created once those seconds have passed
    (other servers' caches of the old one expire); 409 `namespace_being_deleted` if it is
    deleted again meanwhile."""
    services = request.app.state.services
    body = await read_limited(request, MAX_SETTINGS_BODY, "body")
    settings = parse_json(NamespaceSettings, body, code="invalid_request", codes=SETTINGS_CODES, optional=True)
    changes = None if settings is None else parse_changes(settings, ns)
    namespace, created = await services.namespaces.ensure(ns, changes)
    if changes:  # this server follows at once; others within a second
        services.scripts.forget_namespace(ns)
        services.rates.forget(ns)
    return JSONResponse(namespace, status_code=201 if created else 200)


@router.get("/{ns}", response_model=Namespace, **access(Access.NAMESPACE))
async def get_namespace(ns: str, request: Request) -> JSONResponse:
    """The namespace: `script_count`, `limits`, `quotas`, `dispatcher`, `outbound` (404 for a token that does not
    cover it)."""
    return JSONResponse(await request.app.state.services.namespaces.get(ns))


@router.delete("/{ns}", response_model=NamespaceDeleted, responses=errors(404, 409), **access(Access.ADMIN))
async def delete_namespace(ns: str, request: Request) -> JSONResponse:
    """Delete the namespace and everything it owns: scripts (versions, deployments, secrets,
    tags, schedules), KV namespaces and their values, the tokens scoped to it, its rate
    bucket, and its history (invocation records, usage, cron leases); its open live tails
    end, on every server. A namespace created again under the name (`PUT`, 3 s after this
    at the earliest) finds nothing of this one (`default` is protected: 409)."""
    services = request.app.state.services
    await services.namespaces.delete(ns)
    # Gone from the store; now from this server's memory (other servers' caches expire
    # within seconds, and their tails notice at their next poll).
    services.tail.end_namespace(ns)
    services.scripts.forget_namespace(ns)
    services.rates.forget(ns)
    await services.tokens.delete_for_namespace(ns)  # deleted with the namespace: clears the token cache
    try:
        await services.namespaces.purge(ns)
    except Exception:  # noqa: BLE001 - the namespace is deleted; its history is purged later
        # The deletion is pending in the store: the name is not taken again before the
        # purge is finished (on its creation, or by the background sweep).
        log.exception("could not purge the history of the deleted namespace %r yet: it will be finished later", ns)
    return JSONResponse({"name": ns, "deleted": True})
