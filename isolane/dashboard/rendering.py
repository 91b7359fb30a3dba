"""Pages out: the Jinja2 environment (autoescaped), the security headers every dashboard
response carries, and the route class that turns errors into pages instead of JSON."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse, Response

from isolane.errors import IsolaneError

# Pages load only their own stylesheet and script: an injected tag could do nothing.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
    # A window that opens a page gets no handle on it; other origins cannot load it at all.
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


class LoginRequired(Exception):
    """No valid session: the visitor is sent to the login page."""


def _milliseconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f} ms" if value < 1000 else f"{value / 1000:.2f} s"


def _short_time(iso: str | None) -> str:
    """`2026-11-27T18:00:00.123Z` as `2026-11-27 18:00:00` (UTC)."""
    if not iso:
        return "–"
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso


def _log_time(ms: float | int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(float(ms) / 1000, UTC).strftime("%H:%M:%S.%f")[:-3]


environment = Environment(
    loader=PackageLoader("isolane.dashboard", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["ms"] = _milliseconds
environment.filters["when"] = _short_time
environment.filters["log_time"] = _log_time
environment.filters["urlpart"] = lambda value: quote(str(value), safe="")


def secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def page(template: str, status: int = 200, headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
    context.setdefault("viewer", None)
    html = environment.get_template(template).render(**context)
    response = HTMLResponse(html, status_code=status, headers=headers)
    secure(response)
    return response


def redirect(location: str) -> Response:
    """303: after a POST, and to the login page; the browser follows with a GET."""
    return secure(RedirectResponse(location, status_code=303))


def login_location(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/dashboard/login?next=" + quote(target, safe="")


class DashboardRoute(APIRoute):
    """A dashboard route: no session sends the browser to log in; an error becomes a page
    with the error's status (the API's errors stay JSON)."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def render_errors(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                return redirect(login_location(request))
            except IsolaneError as exc:
                viewer = getattr(request.state, "dashboard_viewer", None)
                return page("error.html", exc.status, headers=exc.headers or None, error=exc, viewer=viewer)

        return render_errors
