"""Every error Isolane produces leaves as `{"error": {"code", "message"}}`."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from isolane.server.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from isolane.errors import IsolaneError
from isolane.store import failures as store_failures

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_response(status: int, code: str, message: str, **details: object) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **details}}, status_code=status)


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for problem in exc.errors()[:5]:
        where = ".".join(str(p) for p in problem.get("loc", ()) if p != "body")
        parts.append(f"{where}: {problem.get('msg')}" if where else str(problem.get("msg")))
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(IsolaneError)
    async def isolane_error(_: Request, exc: IsolaneError) -> JSONResponse:
        return JSONResponse(exc.to_body(), status_code=exc.status, headers=exc.headers or None)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, "invalid_request", _describe_validation(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = "no such endpoint"
        response = error_response(exc.status_code, code, message)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    app.add_middleware(CatchAll)


def shutting_down_response() -> JSONResponse:
    """For a request still running when the server stops and its grace (10 s) has run out."""
    body = {"error": {"code": "shutting_down", "message": "the server stopped before this request finished: retry", "retry_after": 1}}
    return JSONResponse(body, status_code=503, headers={"retry-after": "1", "connection": "close"})


def unexpected_error_response(method: str, path: str, exc: Exception) -> JSONResponse:
    """The answer to an exception no handler knew: 503 for the database's known failures
    (busy, away: retrying helps), else 500, logged with its traceback."""
    known = store_failures.translate(exc)
    if known is not None:
        log.warning("%s on %s %s: %s", known.code, method, path, exc.__class__.__name__)
        return JSONResponse(known.to_body(), status_code=known.status, headers=known.headers or None)
    log.error("unhandled error on %s %s", method, path, exc_info=exc)
    return error_response(500, "internal_error", "the server failed to handle this request")


class CatchAll:
    """Answers any exception the routes let out, as JSON, and keeps the connection: an
    `Exception` handler would run in Starlette's outermost middleware, which re-raises
    after answering, so the server would close a client's keep-alive connection on every
    500. Once a response has started, there is nothing to answer with: it is re-raised."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_tracked)
        except asyncio.CancelledError:
            if not started:  # the server stops and its grace ran out: say so, not a plain 500
                await shutting_down_response()(scope, receive, send)
            raise
        except Exception as exc:
            if started:
                raise
            response = unexpected_error_response(scope.get("method", ""), scope.get("path", ""), exc)
            await response(scope, receive, send)
