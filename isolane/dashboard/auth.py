"""Who is looking at the dashboard: the session cookie checked against the token it was
made from, the scope rules of the API (`Principal.covers`), and the checks every POST goes
through (same origin, CSRF token)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import Request
from starlette.responses import Response

from isolane.errors import BadRequest, Forbidden, NotFound
from isolane.dashboard.rendering import LoginRequired
from isolane.dashboard.session import (
    COOKIE_NAME,
    COOKIE_PATH,
    LOGIN_COOKIE_NAME,
    SESSION_SECONDS,
    Session,
    SessionSigner,
    same_secret,
)
from isolane.platform.tokens import Principal
from isolane.server.bodies import read_limited

MAX_FORM_BYTES = 1024 * 1024 + 64 * 1024  # the invoke form's body field, and room for the rest
LOGIN_NONCE_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class Viewer:
    """A logged-in visitor: the token's principal and the session's CSRF token."""

    principal: Principal
    session: Session
    csrf_token: str

    def require(self, namespace: str) -> None:
        """As the API: a namespace the token does not cover does not exist."""
        if not self.principal.covers(namespace):
            raise NotFound(f"namespace {namespace[:80]!r} not found", code="namespace_not_found")

    @property
    def can_invoke(self) -> bool:
        return not self.principal.read_only


async def visible_namespace(request: Request, viewer: Viewer, namespace: str) -> dict[str, Any]:
    """The namespace, if the viewer's token covers it and it exists (else 404, as the API)."""
    viewer.require(namespace)
    return await request.app.state.services.namespaces.get(namespace)


async def visible_script(request: Request, viewer: Viewer, namespace: str, name: str) -> dict[str, Any]:
    """The script, if its namespace is visible to the viewer and it exists (else 404)."""
    await visible_namespace(request, viewer, namespace)
    return await request.app.state.services.scripts.get(namespace, name)


def signer_of(request: Request) -> SessionSigner:
    return SessionSigner(request.app.state.services.session_key)


async def current_viewer(request: Request) -> Viewer:
    """The session's viewer; LoginRequired without a session that still holds (signed by
    us, unexpired, its token still there with the same secret, not logged out)."""
    session = SessionSigner.parse(request.cookies.get(COOKIE_NAME))
    if session is None:
        raise LoginRequired()
    services = request.app.state.services
    found = await services.tokens.principal_by_id(session.token_id)
    signer = signer_of(request)
    if found is None or not signer.verify(session, found[1]) or await services.logouts.ended(session.nonce):
        raise LoginRequired()
    viewer = Viewer(found[0], session, signer.csrf_token(session))
    request.state.dashboard_viewer = viewer
    return viewer


def check_same_origin(request: Request) -> None:
    """A POST must come from a page of this site (SameSite=Strict already keeps the session
    cookie off cross-site requests; this also covers the login form, which has none)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise Forbidden("cross-site form submissions are refused", code="cross_site_request")
    origin = request.headers.get("origin")
    # "null" is an opaque origin (sandboxed frame, data: URL): never one of our pages.
    if origin is not None and (origin == "null" or urlsplit(origin).netloc != request.headers.get("host", "")):
        raise Forbidden("the form was submitted from another origin", code="cross_site_request")


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form (one value per field), read within a size limit."""
    body = await read_limited(request, MAX_FORM_BYTES, "form")
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if body and content_type != "application/x-www-form-urlencoded":
        raise BadRequest("the form must be application/x-www-form-urlencoded", code="invalid_form")
    try:
        fields = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the form could not be read", code="invalid_form") from None
    return dict(fields)


def check_csrf(request: Request, viewer: Viewer, form: dict[str, str]) -> None:
    check_same_origin(request)
    if not signer_of(request).check_csrf(viewer.session, form.get("csrf")):
        raise Forbidden("the form's CSRF token is missing or wrong: reload the page and try again", code="csrf_failed")


def new_login_nonce() -> str:
    return secrets.token_urlsafe(24)


def check_login_nonce(request: Request, form: dict[str, str]) -> None:
    """The login form's double-submit check: the form's value must match its cookie."""
    check_same_origin(request)
    cookie = request.cookies.get(LOGIN_COOKIE_NAME) or ""
    presented = form.get("csrf") or ""
    if not cookie or not same_secret(presented, cookie):
        raise Forbidden("the login form expired: reload the page and try again", code="csrf_failed")


def _set_cookie(response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path=COOKIE_PATH, secure=True, httponly=True, samesite="strict")


def set_login_nonce(response: Response, nonce: str) -> None:
    _set_cookie(response, LOGIN_COOKIE_NAME, nonce, LOGIN_NONCE_SECONDS)


def start_session(response: Response, session: Session) -> None:
    _set_cookie(response, COOKIE_NAME, session.cookie_value(), SESSION_SECONDS)
    response.delete_cookie(LOGIN_COOKIE_NAME, path=COOKIE_PATH, secure=True, httponly=True, samesite="strict")


def end_session(response: Response) -> None:
    response.delete_cookie(COOKIE_NAME, path=COOKIE_PATH, secure=True, httponly=True, samesite="strict")
