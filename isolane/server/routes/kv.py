"""`/v1/kv/namespaces`: Workers KV namespaces and their values.

A KV namespace belongs to the tenant namespace of the token that created it (admins choose
one, `default` unless told). A namespace token sees only its own namespace's KV namespaces:
any other is 404, so existence does not leak. Values travel as raw bodies.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response

from isolane.errors import NotFound
from isolane.platform.kv import (
    MAX_LIST_LIMIT,
    MAX_VALUE_BYTES,
    KVService,
    check_key,
    key_not_found,
    key_view,
    kv_namespace_not_found,
    parse_metadata,
    resolve_expiration,
)
from isolane.platform.namespaces import DEFAULT_NAMESPACE
from isolane.server.access import Access, access, principal_of
from isolane.server.bodies import read_json, read_limited
from isolane.server.models.common import Page, errors
from isolane.server.models.kv import KeyDeleted, KeyInfo, KVNamespace, KVNamespaceCreate, KVNamespaceDeleted
from isolane.server.openapi import json_body
from isolane.server.responses import JSONResponse

router = APIRouter(prefix="/v1/kv/namespaces", tags=["kv"])

VALUE_BODY = {"requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}
VALUE_CONTENT = {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}, "description": "The value as stored"}


def _kv(request: Request) -> KVService:
    return request.app.state.services.kv


async def _reachable(request: Request, namespace_id: str) -> dict[str, Any]:
    """The KV namespace if the caller's token covers its owner; otherwise 404."""
    found = await _kv(request).find_namespace(namespace_id)
    if found is None or not principal_of(request).covers(found["namespace"]):
        raise kv_namespace_not_found(namespace_id)
    return found


@router.post(
    "",
    status_code=201,
    response_model=KVNamespace,
    responses=errors(400, 404, 409, 413),
    openapi_extra={**access(Access.TOKEN)["openapi_extra"], **json_body(KVNamespaceCreate)},
)
async def create_kv_namespace(request: Request, namespace: str | None = Query(None, max_length=63)) -> JSONResponse:
    """Create a KV namespace `{"title"}` in the caller's namespace (admins: `namespace`)."""
    body = await read_json(request, KVNamespaceCreate)
    principal = principal_of(request)
    wanted = body.namespace or namespace
    if principal.is_admin:
        owner = wanted or DEFAULT_NAMESPACE
    else:
        owner = principal.namespace or ""
        if wanted is not None and wanted != owner:
            raise NotFound(f"namespace {wanted[:80]!r} not found", code="namespace_not_found")
    return JSONResponse(await _kv(request).create_namespace(owner, body.title), status_code=201)


@router.get("", response_model=Page[KVNamespace], responses=errors(400), **access(Access.TOKEN))
async def list_kv_namespaces(
    request: Request,
    namespace: str | None = Query(None, max_length=63),
    limit: int | None = Query(None, ge=1, le=MAX_LIST_LIMIT),
    cursor: str | None = Query(None, max_length=2048),
) -> JSONResponse:
    """Admins see every KV namespace (or one namespace's); namespace tokens their own."""
    principal = principal_of(request)
    only = namespace if principal.is_admin else principal.namespace
    if not principal.is_admin and namespace is not None and namespace != only:
        return JSONResponse({"items": [], "cursor": None})
    items, next_cursor = await _kv(request).list_namespaces(only, limit, cursor)
    return JSONResponse({"items": items, "cursor": next_cursor})


@router.get("/{namespace_id}", response_model=KVNamespace, responses=errors(404), **access(Access.TOKEN))
async def get_kv_namespace(namespace_id: str, request: Request) -> JSONResponse:
    """One KV namespace (404 `kv_namespace_not_found` outside the caller's reach)."""
    return JSONResponse(await _reachable(request, namespace_id))


@router.delete("/{namespace_id}", response_model=KVNamespaceDeleted, responses=errors(404), **access(Access.TOKEN))
async def delete_kv_namespace(namespace_id: str, request: Request) -> JSONResponse:
    """Delete the KV namespace and all its values."""
    await _reachable(request, namespace_id)
    await _kv(request).delete_namespace(namespace_id)
    return JSONResponse({"id": namespace_id, "deleted": True})


@router.get("/{namespace_id}/keys", response_model=Page[KeyInfo], responses=errors(400, 404), **access(Access.TOKEN))
async def list_keys(
    namespace_id: str,
    request: Request,
    prefix: str | None = Query(None, max_length=1024),
    limit: str | None = Query(None, description=f"1-{MAX_LIST_LIMIT}, default {MAX_LIST_LIMIT}"),
    cursor: str | None = Query(None, max_length=2048),
) -> JSONResponse:
    """Live keys in byte order: `{"items": [{"name", "expiration", "metadata"}], "cursor"}`."""
    await _reachable(request, namespace_id)
    items, next_cursor = await _kv(request).list_keys(namespace_id, prefix, limit, cursor)
    return JSONResponse({"items": items, "cursor": next_cursor})


@router.get("/{namespace_id}/values/{key:path}", response_class=Response, responses={200: VALUE_CONTENT, **errors(400, 404)}, **access(Access.TOKEN))
async def get_value(namespace_id: str, key: str, request: Request) -> Response:
    """The value as stored (raw bytes); 404 `key_not_found` when missing or expired."""
    await _reachable(request, namespace_id)
    row = await _kv(request).get(namespace_id, check_key(key))
    if row is None:
        raise key_not_found(key)
    headers = {"x-isolane-kv-expiration": str(row.expiration)} if row.expiration is not None else None
    return Response(row.value, media_type="application/octet-stream", headers=headers)


@router.put(
    "/{namespace_id}/values/{key:path}",
    response_model=KeyInfo,
    responses=errors(400, 404, 413),
    openapi_extra={**access(Access.TOKEN)["openapi_extra"], **VALUE_BODY},
)
async def put_value(
    namespace_id: str,
    key: str,
    request: Request,
    expiration: str | None = Query(None, description="epoch seconds"),
    expiration_ttl: str | None = Query(None, description="seconds from now, at least 60"),
    metadata: str | None = Query(None, description="JSON, at most 1024 bytes"),
) -> JSONResponse:
    """Write the body as the value of `key` (at most 25 MiB)."""
    await _reachable(request, namespace_id)
    check_key(key)
    at = resolve_expiration(expiration, expiration_ttl)
    stored_metadata = parse_metadata(metadata)
    value = await read_limited(request, MAX_VALUE_BYTES, "value", code="value_too_large")
    return JSONResponse(await _kv(request).put(namespace_id, key, value, at, stored_metadata))


@router.delete("/{namespace_id}/values/{key:path}", response_model=KeyDeleted, responses=errors(400, 404), **access(Access.TOKEN))
async def delete_value(namespace_id: str, key: str, request: Request) -> JSONResponse:
    """Delete `key` (deleting a missing key succeeds, as in Workers KV)."""
    await _reachable(request, namespace_id)
    await _kv(request).delete(namespace_id, check_key(key))
    return JSONResponse({"name": key, "deleted": True})


@router.get("/{namespace_id}/metadata/{key:path}", response_model=KeyInfo, responses=errors(400, 404), **access(Access.TOKEN))
async def get_key_metadata(namespace_id: str, key: str, request: Request) -> JSONResponse:
    """`{"name", "expiration", "metadata"}` of a live key."""
    await _reachable(request, namespace_id)
    row = await _kv(request).get(namespace_id, check_key(key))
    if row is None:
        raise key_not_found(key)
    return JSONResponse(key_view(row))
