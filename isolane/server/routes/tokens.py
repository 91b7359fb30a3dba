"""`/v1/tokens`: admins manage every token; a namespace token manages its namespace's."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from isolane.errors import Forbidden, NotFound
from isolane.platform.tokens import NAMESPACE_SCOPE_PREFIX, parse_scope
from isolane.server.access import Access, access, principal_of
from isolane.server.bodies import read_json
from isolane.server.models.common import Page, errors
from isolane.server.models.tokens import CreatedToken, Token, TokenCreate, TokenDeleted
from isolane.server.openapi import json_body
from isolane.server.responses import JSONResponse

router = APIRouter(prefix="/v1/tokens", tags=["tokens"])


@router.post(
    "",
    status_code=201,
    response_model=CreatedToken,
    responses=errors(400, 413),
    openapi_extra={**access(Access.TOKEN)["openapi_extra"], **json_body(TokenCreate)},
)
async def create_token(request: Request) -> JSONResponse:
    """Create a token (`scope` `admin` or `namespace:{ns}`); its secret is in this answer only. A namespace token may
    create tokens for its own namespace only."""
    body = await read_json(request, TokenCreate)
    principal = principal_of(request)
    scope = parse_scope(body.scope)
    if not principal.is_admin and scope != NAMESPACE_SCOPE_PREFIX + (principal.namespace or ""):
        raise Forbidden("a namespace token can only create tokens for its own namespace", code="scope_not_allowed")
    view, secret = await request.app.state.services.tokens.create(body.name, scope, body.read_only)
    return JSONResponse({**view, "token": secret}, status_code=201)


@router.get("", response_model=Page[Token], **access(Access.TOKEN))
async def list_tokens(request: Request) -> JSONResponse:
    """Tokens within the caller's reach (admins: all; namespace tokens: their namespace's), never their secrets."""
    principal = principal_of(request)
    items = await request.app.state.services.tokens.list(None if principal.is_admin else principal.namespace)
    return JSONResponse({"items": items, "cursor": None})


@router.delete("/{token_id}", response_model=TokenDeleted, responses=errors(404), **access(Access.TOKEN))
async def delete_token(token_id: str, request: Request) -> JSONResponse:
    """Revoke a token within the caller's reach (other servers stop accepting it within 2 s)."""
    principal = principal_of(request)
    tokens = request.app.state.services.tokens
    token: dict[str, Any] | None = await tokens.get(token_id)
    if token is None or not (principal.is_admin or token["scope"] == NAMESPACE_SCOPE_PREFIX + (principal.namespace or "")):
        raise NotFound(f"token {token_id[:80]!r} not found", code="token_not_found")
    await tokens.delete(token_id)
    return JSONResponse({"id": token_id, "deleted": True})
