"""Authorization: one check that every route goes through.

Each route declares who may call it with `**access(Access.X)`; the app-wide dependency
`authorize` reads that declaration from the matched route and enforces it. A route that
declares nothing is refused (fail closed), so a new endpoint cannot be left open by
forgetting. The declaration also appears in the OpenAPI document as `x-isolane-access`.

- PUBLIC: no token (health; invocation later).
- TOKEN: any valid token; the handler narrows what a namespace token sees.
- ADMIN: an admin token.
- NAMESPACE: a token whose scope covers the `{ns}` path parameter; for any other token the
  namespace does not exist (404), so existence does not leak.
- SEED: a token covering the `default` namespace (the seed contract's home).
Read-only tokens may only GET (and HEAD): anything else is 403.

Every check of a presented secret goes through `check_secret`: failed checks are throttled
per client address (server/throttle.py), a 429 `too_many_attempts` before the secret is
looked at.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from fastapi import Request

from isolane.errors import Forbidden, NotFound, Unauthorized
from isolane.platform.namespaces import DEFAULT_NAMESPACE
from isolane.platform.tokens import ADMIN_SCOPE, Principal

ACCESS_KEY = "x-isolane-access"
READ_METHODS = frozenset({"GET", "HEAD"})
INSECURE_PRINCIPAL = Principal("insecure", "insecure-no-auth", ADMIN_SCOPE, False)


class Access(StrEnum):
    PUBLIC = "public"
    TOKEN = "token"
    ADMIN = "admin"
    NAMESPACE = "namespace"
    SEED = "seed"


def access(level: Access) -> dict[str, Any]:
    """Route keyword arguments declaring who may call the route."""
    return {"openapi_extra": {ACCESS_KEY: level.value}}


def declared_access(route: Any) -> Access | None:
    extra = getattr(route, "openapi_extra", None) or {}
    value = extra.get(ACCESS_KEY)
    return Access(value) if value is not None else None


def bearer_secret(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()


async def check_secret(request: Request, secret: str) -> Principal | None:
    """The principal of `secret`, or None; 429 when the client's address has no guess left."""
    services = request.app.state.services
    guess = services.guesses.admit(request.scope.get("client"))
    try:
        principal = await services.tokens.authenticate(secret)
    except BaseException:
        services.guesses.settle(guess, None)  # a check that could not be made is no guess
        raise
    services.guesses.settle(guess, secret if principal is None else None)
    return principal


async def authorize(request: Request) -> None:
    level = declared_access(request.scope.get("route"))
    if level is None:
        raise Forbidden("this endpoint declares no access policy", code="forbidden")
    if level is Access.PUBLIC:
        return
    services = request.app.state.services
    if services.settings.insecure_no_auth:
        principal = INSECURE_PRINCIPAL
    else:
        secret = bearer_secret(request)
        if secret is None:
            raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'", code="unauthorized")
        principal = await check_secret(request, secret)
        if principal is None:
            raise Unauthorized("invalid or revoked token", code="invalid_token")
    request.state.principal = principal

    if level is Access.ADMIN and not principal.is_admin:
        raise Forbidden("this endpoint needs an admin token", code="admin_required")
    if level is Access.NAMESPACE:
        namespace = request.path_params.get("ns", "")
        if not principal.covers(namespace):
            raise NotFound(f"namespace {namespace[:80]!r} not found", code="namespace_not_found")
    if level is Access.SEED and not principal.covers(DEFAULT_NAMESPACE):
        raise Forbidden(f"this endpoint needs a token for the {DEFAULT_NAMESPACE!r} namespace", code="forbidden")
    if principal.read_only and request.method not in READ_METHODS:
        raise Forbidden("this token is read-only", code="read_only_token")


def principal_of(request: Request) -> Principal:
    return request.state.principal
