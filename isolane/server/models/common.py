"""Shapes every resource shares: the error body, list pages, timestamps, deletions."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"}, examples=["2026-11-27T18:00:00.000Z"])]
DnsLabel = Annotated[str, Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", examples=["acme"])]
ItemT = TypeVar("ItemT")


class Closed(BaseModel):
    """A documented object with no undocumented fields: a field added on the wire without
    its model fails the conformance test instead of drifting silently."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    # Some errors carry details beside code and message (limit, line, column, quota...).
    model_config = ConfigDict(extra="allow")
    code: str = Field(description="Stable snake_case code", examples=["namespace_not_found"])
    message: str = Field(description="For humans; may change")


class ErrorBody(Closed):
    """Every error Isolane itself produces."""

    error: ErrorDetail


class Page(Closed, Generic[ItemT]):
    """A list: `cursor` is null on the last page, else what to pass as `cursor` for the next."""

    items: list[ItemT]
    cursor: str | None


ERROR_MEANINGS = {
    400: "Invalid request (parameters or body)",
    401: "Missing, invalid or revoked token",
    403: "The token may not do this (admin only, read-only token, scope) or a quota is reached",
    404: "No such resource (or the token's scope does not cover it)",
    409: "Conflicts with the current state",
    413: "The body is over its size limit",
    415: "Unsupported content type",
    429: "Over the namespace's request rate (see Retry-After)",
    503: "Not ready or temporarily unavailable",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for the error statuses a route produces, each with the error body."""
    return {status: {"model": ErrorBody, "description": ERROR_MEANINGS[status]} for status in statuses}


def also(status: int, model: type[BaseModel], description: str) -> dict[int | str, dict[str, Any]]:
    """A second success status of a route (e.g. 200 beside a create's 201)."""
    return {status: {"model": model, "description": description}}
