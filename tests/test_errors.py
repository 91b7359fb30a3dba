"""Errors safe to retry say so the same way: `Retry-After` and `retry_after` in the body."""

from __future__ import annotations

from isolane.errors import Conflict, IsolaneError, TooManyRequests, Unavailable


def test_retry_after_goes_out_as_a_header_and_in_the_body() -> None:
    for error in (
        Conflict("secrets changed", code="concurrent_change", retry_after=1),
        TooManyRequests("slow down", retry_after=3),
        Unavailable("busy", retry_after=5, code="overloaded"),
    ):
        assert error.headers == {"retry-after": str(error.retry_after)}
        assert error.to_body()["error"]["retry_after"] == error.retry_after


def test_errors_not_safe_to_retry_say_nothing() -> None:
    for error in (Conflict("taken", code="script_name_taken"), Unavailable("no"), IsolaneError("bug")):
        assert error.headers == {} and "retry_after" not in error.to_body()["error"]
