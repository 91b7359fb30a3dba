"""Errors Isolane itself produces: each has a stable snake_case `code` and an HTTP status.

The server renders every one as `{"error": {"code", "message", ...details}}`.
"""

from __future__ import annotations

from typing import Any


class IsolaneError(Exception):
    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.details}}


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


class Unavailable(IsolaneError):
    status, code = 503, "unavailable"
