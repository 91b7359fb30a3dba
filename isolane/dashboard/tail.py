"""The live tail view: a page, and the event stream it reads (Server-Sent Events through
the session cookie, as the API's `/tail` streams them to bearer tokens).

A stream can outlive the session that opened it: it is checked again every
SESSION_RECHECK_SECONDS and ends once the session no longer holds (token deleted or its
secret replaced, or the session expired) or cannot be checked (a store error)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from isolane.dashboard import auth
from isolane.dashboard.rendering import DashboardRoute, LoginRequired, page, secure
from isolane.observability.tail import TailSubscription
from isolane.platform.names import validate_name
from isolane.server.access import Access, access
from isolane.server.routes.invocations import OUTCOMES
from isolane.server.routes.tail import parse_outcomes, parse_sample, sse_response

router = APIRouter(prefix="/dashboard/namespaces/{ns}/scripts/{name}/tail", route_class=DashboardRoute, include_in_schema=False)
PUBLIC = access(Access.PUBLIC)
SESSION_RECHECK_SECONDS = 30.0  # read at each wait: a test may shorten it

log = logging.getLogger(__name__)


def _filters(request: Request) -> tuple[frozenset[str] | None, float]:
    """The view's filters: `outcome` (one outcome, or a comma-separated list) and `sample`."""
    sample = request.query_params.get("sample") or None
    return parse_outcomes(request.query_params.get("outcome")), parse_sample(sample)


async def _script(request: Request, viewer: auth.Viewer, ns: str, name: str) -> Any:
    validate_name(name, "script")
    return await auth.visible_script(request, viewer, ns, name)


@router.get("", **PUBLIC)
async def tail_page(ns: str, name: str, request: Request) -> Response:
    viewer = await auth.current_viewer(request)
    await _script(request, viewer, ns, name)
    outcomes, sample = _filters(request)
    query = {key: value for key, value in (("outcome", ",".join(sorted(outcomes or ()))), ("sample", request.query_params.get("sample") or "")) if value}
    events_url = f"{request.url.path}/events" + (f"?{urlencode(query)}" if query else "")
    return page(
        "tail.html",
        viewer=viewer,
        namespace=ns,
        script=name,
        outcomes=sorted(OUTCOMES),
        selected_outcome=next(iter(outcomes)) if outcomes is not None and len(outcomes) == 1 else "",
        sample=sample,
        events_url=events_url,
    )


@router.get("/events", **PUBLIC)
async def tail_events(ns: str, name: str, request: Request) -> Response:
    viewer = await auth.current_viewer(request)
    await _script(request, viewer, ns, name)
    outcomes, sample = _filters(request)
    hub = request.app.state.services.tail
    hub.admit(ns, name)  # 429 past the limits of open tails, as the API
    subscribe = _while_signed_in(request, hub.subscribe(ns, name, outcomes=outcomes, sample=sample))
    return secure(sse_response(subscribe, request=request))


@asynccontextmanager
async def _while_signed_in(request: Request, subscribe: Any) -> AsyncIterator[TailSubscription]:
    """The subscription, closed (ending the stream) once the session stops holding."""
    async with subscribe as subscription:
        watcher = asyncio.ensure_future(_end_when_signed_out(lambda: auth.current_viewer(request), subscription))
        try:
            yield subscription
        finally:
            watcher.cancel()


async def _end_when_signed_out(check_session: Callable[[], Awaitable[object]], subscription: TailSubscription) -> None:
    """Every SESSION_RECHECK_SECONDS, `check_session()`; the subscription is closed once it
    raises: LoginRequired, or anything else (a store error), since a stream whose session
    cannot be checked must not go on unchecked."""
    while not subscription.closed:
        await asyncio.sleep(SESSION_RECHECK_SECONDS)
        if subscription.closed:
            return
        try:
            await check_session()
        except LoginRequired:
            subscription.close()
        except Exception:  # noqa: BLE001 - logged, and the stream ends
            log.exception("dashboard tail: the session check failed; ending the stream")
            subscription.close()
