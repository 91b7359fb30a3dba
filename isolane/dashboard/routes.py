"""The dashboard's pages under /dashboard.

Every route is PUBLIC to the API's bearer check (a browser has no bearer token) and checks
the session cookie itself (`auth.current_viewer`); what a session sees follows its token's
scope exactly as the API does."""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from isolane.dashboard import auth
from isolane.dashboard.charts import Series, bar_chart, line_chart
from isolane.dashboard.highlight import HIGHLIGHT_BUDGET_BYTES, render_version_async, stylesheet
from isolane.dashboard.invoke import METHODS, InvokeRequest, invoke, parse_invoke_form
from isolane.dashboard.rendering import DashboardRoute, page, redirect, secure
from isolane.dashboard.session import SessionSigner
from isolane.dashboard.timeline import script_timeline
from isolane.errors import BadRequest, Forbidden, NotFound
from isolane.platform.names import validate_name
from isolane.platform.tokens import hash_secret
from isolane.server.access import Access, access, check_secret

router = APIRouter(prefix="/dashboard", route_class=DashboardRoute, include_in_schema=False)
PUBLIC = access(Access.PUBLIC)

RECENT_INVOCATIONS = 25
VERSIONS_SHOWN = 20
RECORD_ID = re.compile(r"[0-9a-f]{32}")
MAX_TOKEN_CHARS = 512
STATIC_TYPES = {"dashboard.css": "text/css; charset=utf-8", "tail.js": "text/javascript; charset=utf-8"}


def _static(name: str) -> bytes:
    text = resources.files("isolane.dashboard").joinpath("static", name).read_text("utf-8")
    if name == "dashboard.css":
        text += "\n/* code highlighting (Pygments) */\n" + stylesheet() + "\n"
    return text.encode("utf-8")


STATIC = {name: _static(name) for name in STATIC_TYPES}


def _services(request: Request) -> Any:
    return request.app.state.services


# Where login may send the browser: a normalised dashboard path (segments of plain
# characters, none empty, `.` or `..`; nothing percent-encoded), and a query of plain
# characters and percent escapes. Browsers resolve `..` and `%2e`, read `\` as `/` and
# drop tabs and newlines, so anything else could lead off the dashboard (to a tenant's page
# on this origin, or to another host).
NEXT_PATH = re.compile(r"/dashboard(?:/(?!\.\.?(?:/|$))[A-Za-z0-9._~-]+)*/?")
NEXT_QUERY = re.compile(r"(?:[A-Za-z0-9._~=&+,:-]|%[0-9A-Fa-f]{2})*")
MAX_NEXT_CHARS = 2048
HOME = "/dashboard"


def safe_next(target: str | None) -> str:
    """Where to go after logging in: `target` if it is a normalised dashboard path, else home."""
    if target and len(target) <= MAX_NEXT_CHARS:
        path, mark, query = target.partition("?")
        if NEXT_PATH.fullmatch(path) and (not mark or NEXT_QUERY.fullmatch(query)):
            return target
    return HOME


# ---- static files and login


@router.get("/static/{name}", **PUBLIC)
async def static_file(name: str) -> Response:
    if name not in STATIC:
        raise NotFound("no such file", code="not_found")
    return secure(Response(STATIC[name], media_type=STATIC_TYPES[name], headers={"cache-control": "no-cache"}))


def _login_page(next_target: str, status: int = 200, problem: str | None = None) -> Response:
    nonce = auth.new_login_nonce()
    response = page("login.html", status, csrf=nonce, next=safe_next(next_target), problem=problem)
    auth.set_login_nonce(response, nonce)
    return response


@router.get("/login", **PUBLIC)
async def login_form(request: Request) -> Response:
    return _login_page(request.query_params.get("next", ""))


@router.post("/login", **PUBLIC)
async def login(request: Request) -> Response:
    form = await auth.read_form(request)
    auth.check_login_nonce(request, form)
    secret = form.get("token", "").strip()
    # Throttled per client address with the API's token checks (429 too_many_attempts).
    principal = await check_secret(request, secret) if 0 < len(secret) <= MAX_TOKEN_CHARS else None
    if principal is None:
        return _login_page(form.get("next", ""), 401, "That token is not valid (or was revoked).")
    session = SessionSigner(_services(request).session_key).issue(principal.token_id, hash_secret(secret))
    response = redirect(safe_next(form.get("next")))
    auth.start_session(response, session)
    return response


@router.post("/logout", **PUBLIC)
async def logout(request: Request) -> Response:
    viewer = await auth.current_viewer(request)
    auth.check_csrf(request, viewer, await auth.read_form(request))
    # Remembered until it would have expired: a copy of the cookie stops working too.
    await request.app.state.services.logouts.end(viewer.session.nonce, viewer.session.expires_at)
    response = redirect("/dashboard/login")
    auth.end_session(response)
    return response


# ---- pages


@router.get("", **PUBLIC)
async def namespaces_page(request: Request) -> Response:
    viewer = await auth.current_viewer(request)
    principal = viewer.principal
    items = await _services(request).namespaces.list(None if principal.is_admin else principal.namespace)
    return page("namespaces.html", viewer=viewer, namespaces=items)


@router.get("/namespaces/{ns}", **PUBLIC)
async def namespace_page(ns: str, request: Request) -> Response:
    viewer = await auth.current_viewer(request)
    namespace = await auth.visible_namespace(request, viewer, ns)
    services = _services(request)
    cursor = request.query_params.get("cursor") or None
    if cursor is not None:
        validate_name(cursor, "cursor")
    scripts, next_cursor = await services.scripts.list(ns, 100, cursor)
    return page("namespace.html", viewer=viewer, namespace=namespace, scripts=scripts, next_cursor=next_cursor)


async def _script_context(request: Request, viewer: auth.Viewer, ns: str, name: str) -> dict[str, Any]:
    script = await auth.visible_script(request, viewer, ns, name)
    services = _services(request)
    versions, more_versions = await services.scripts.list_versions(ns, name, VERSIONS_SHOWN)
    deployments, _ = await services.scripts.list_deployments(ns, name, 1)
    recent = await services.records.summaries(ns, name, limit=RECENT_INVOCATIONS)  # no logs
    timeline = await script_timeline(services, ns, name)
    labels = [hour.label for hour in timeline.hours]
    latency = line_chart(
        "Wall time per hour (ms)",
        labels,
        [
            Series("p95", [hour.p95_ms for hour in timeline.hours], "series-p95"),
            Series("p50", [hour.p50_ms for hour in timeline.hours], "series-p50"),
            Series("mean", [hour.mean_ms for hour in timeline.hours], "series-mean"),
        ],
        " ms",
        lambda value: f"{value:.1f} ms",
    )
    errors = bar_chart("Error rate per hour (%)", labels, [hour.error_rate for hour in timeline.hours], "%", "series-errors", maximum=100.0)
    return {
        "viewer": viewer,
        "script": script,
        "versions": versions,
        "more_versions": more_versions is not None,
        "deployment": deployments[0] if deployments and deployments[0]["current"] else None,
        "recent": recent,
        "timeline": timeline,
        "latency_chart": latency,
        "error_chart": errors,
        "methods": METHODS,
        "form": InvokeRequest(),
        "result": None,
    }


@router.get("/namespaces/{ns}/scripts/{name}", **PUBLIC)
async def script_page(ns: str, name: str, request: Request) -> Response:
    viewer = await auth.current_viewer(request)
    return page("script.html", **await _script_context(request, viewer, ns, name))


@router.post("/namespaces/{ns}/scripts/{name}/invoke", **PUBLIC)
async def invoke_script(ns: str, name: str, request: Request) -> Response:
    viewer = await auth.current_viewer(request)
    form = await auth.read_form(request)
    auth.check_csrf(request, viewer, form)
    await auth.visible_script(request, viewer, ns, name)  # 404 before anything runs
    if not viewer.can_invoke:
        raise Forbidden("this token is read-only: it cannot invoke scripts", code="read_only_token")
    services = _services(request)
    invoke_request = parse_invoke_form(form, services.settings.max_request_bytes)
    result = await invoke(services, ns, name, invoke_request)
    context = await _script_context(request, viewer, ns, name)
    context.update(form=invoke_request, result=result)
    return page("script.html", **context)


@router.get("/namespaces/{ns}/scripts/{name}/versions/{version_id}", **PUBLIC)
async def version_page(ns: str, name: str, version_id: str, request: Request) -> Response:
    viewer = await auth.current_viewer(request)
    await auth.visible_namespace(request, viewer, ns)
    services = _services(request)
    version = await services.scripts.version(ns, name, version_id)
    modules = await render_version_async(version["id"], await services.scripts.version_modules(ns, name, version_id))
    return page(
        "version.html", viewer=viewer, namespace=ns, script=name, version=version, modules=modules, budget=HIGHLIGHT_BUDGET_BYTES
    )


@router.get("/invocations/{invocation_id}", **PUBLIC)
async def invocation_page(invocation_id: str, request: Request) -> Response:
    viewer = await auth.current_viewer(request)
    if not RECORD_ID.fullmatch(invocation_id):
        raise BadRequest("not an invocation id", code="invalid_invocation_id")
    record = await _services(request).records.get(invocation_id)
    if record is None or not viewer.principal.covers(record["namespace"]):
        raise NotFound(f"invocation {invocation_id!r} not found", code="invocation_not_found")
    return page("invocation.html", viewer=viewer, record=record)


# Last, after every other dashboard router: an unknown page is a 404 page, not JSON.
fallback_router = APIRouter(prefix="/dashboard", route_class=DashboardRoute, include_in_schema=False)


@fallback_router.api_route("/{rest:path}", methods=["GET", "POST"], **PUBLIC)
async def unknown_page(rest: str, request: Request) -> Response:
    await auth.current_viewer(request)
    if not rest and request.method == "GET":
        return redirect("/dashboard")
    raise NotFound("no such dashboard page", code="not_found")
