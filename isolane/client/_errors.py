"""Typed errors: one class per kind of failure a caller handles differently.

Every error Isolane produces is `{"error": {"code", "message", ...details}}` with an HTTP
status; `error_from_response` turns such an answer into the matching exception. A server
that cannot be reached raises `TransportError` (status None).
"""

from __future__ import annotations

from typing import Any

import httpx


class IsolaneError(Exception):
    """An Isolane API call failed. `status` is the HTTP status (None when no answer came),
    `code` the stable snake_case error code, `details` any further fields of the error."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "error", details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details: dict[str, Any] = details or {}

    def __str__(self) -> str:
        prefix = f"{self.status} {self.code}" if self.status is not None else self.code
        return f"{prefix}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, message={self.message!r})"


class BadRequest(IsolaneError):
    """400: the request was refused as invalid (see `code`, e.g. `syntax_error`)."""


class AuthenticationError(IsolaneError):
    """401: no token, or a token the server does not know."""


class PermissionDenied(IsolaneError):
    """403: the token may not do this (outside its scope, read-only, a quota)."""


class NotFound(IsolaneError):
    """404: no such namespace, script, version, key, ... (or outside the token's reach)."""


class Conflict(IsolaneError):
    """409: the request conflicts with the current state (e.g. `secrets_changed`)."""


class PayloadTooLarge(IsolaneError):
    """413: a script, value or request body over its limit."""


class RateLimited(IsolaneError):
    """429: the namespace's request rate is spent; try again after `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(IsolaneError):
    """5xx: the server (or a script it ran) failed."""


class TransportError(IsolaneError):
    """No answer: the connection failed, was cut or timed out."""


class ConnectError(TransportError):
    """The server could not be reached at all (wrong URL, not running)."""


class StreamClosed(TransportError):
    """The server ended a stream the caller had not closed: it stopped, or the stream's
    token was revoked (the next request says which)."""

    @classmethod
    def for_tail(cls, ns: str, name: str) -> StreamClosed:
        return cls(f"the server ended the live tail of {ns}/{name}", code="stream_closed")


_BY_STATUS: dict[int, type[IsolaneError]] = {
    400: BadRequest,
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    429: RateLimited,
}


def error_class(status: int) -> type[IsolaneError]:
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, IsolaneError)


def parse_error_body(response: httpx.Response) -> tuple[str, str, dict[str, Any]] | None:
    """(code, message, details) of an Isolane error body, or None if it is not one."""
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("code"), str):
        return None
    details = {key: value for key, value in error.items() if key not in ("code", "message")}
    return error["code"], str(error.get("message", "")), details


def error_from_response(response: httpx.Response) -> IsolaneError:
    """The exception for an error answer (the body must have been read)."""
    parsed = parse_error_body(response)
    if parsed is None:  # not Isolane's: a proxy, or an HTML error page
        snippet = response.text[:200].strip() if response.content else ""
        code, message, details = "http_error", f"HTTP {response.status_code}" + (f": {snippet}" if snippet else ""), {}
    else:
        code, message, details = parsed
    cls = error_class(response.status_code)
    if cls is RateLimited:
        return RateLimited(message, status=response.status_code, code=code, details=details, retry_after=_retry_after(response))
    return cls(message, status=response.status_code, code=code, details=details)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def transport_error(exc: httpx.TransportError, url: str) -> TransportError:
    if isinstance(exc, httpx.ConnectError):
        return ConnectError(f"cannot connect to {url}: {exc}", code="connect_error")
    if isinstance(exc, httpx.TimeoutException):
        return TransportError(f"no answer from {url} in time ({type(exc).__name__})", code="timeout")
    return TransportError(f"the connection to {url} failed: {exc}", code="transport_error")


def platform_error(response: httpx.Response) -> IsolaneError | None:
    """For an invocation's response: Isolane's own error (the script failed or exceeded a
    limit, no such script, rate limited, ...) as an exception, or None when the response
    is the script's own answer, whatever its status."""
    if not response.is_error:
        return None
    produced_by_script = "x-isolane-invocation" in response.headers and "x-isolane-outcome" not in response.headers
    if produced_by_script or parse_error_body(response) is None:
        return None
    return error_from_response(response)
