"""Errors Isolane itself produces: each has a stable snake_case `code` and an HTTP status.

The server renders every one as `{"error": {"code", "message", ...details}}`.
"""

from __future__ import annotations

from typing import Any


class IsolaneError(Exception):
    """`retry_after` (whole seconds) marks an error as safe to retry unchanged: nothing was
    done, and the same request may succeed later. It goes out as `Retry-After` and in the
    body (docs/operations.md lists these errors)."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, retry_after: int | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if retry_after is not None:
            details["retry_after"] = retry_after
        self.retry_after = retry_after
        self.details = details

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.details}}

    @property
    def headers(self) -> dict[str, str]:
        """Response headers that go with the error: Retry-After when retrying helps."""
        return {} if self.retry_after is None else {"retry-after": str(self.retry_after)}


class BadRequest(IsolaneError):
    status, code = 400, "bad_request"


class Unauthorized(IsolaneError):
    status, code = 401, "unauthorized"


class Forbidden(IsolaneError):
    status, code = 403, "forbidden"


class NotFound(IsolaneError):
    status, code = 404, "not_found"


class Conflict(IsolaneError):
    status, code = 409, "conflict"


class PayloadTooLarge(IsolaneError):
    status, code = 413, "payload_too_large"


class TooManyRequests(IsolaneError):
    """429 with `Retry-After` (whole seconds, at least 1)."""

    status, code = 429, "too_many_requests"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None, **details: Any) -> None:
        super().__init__(message, code=code, retry_after=retry_after, **details)


class Unavailable(IsolaneError):
    """503; with `retry_after` (whole seconds), a `Retry-After` header: retrying helps."""

    status, code = 503, "unavailable"
