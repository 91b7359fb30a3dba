"""Workers KV namespaces and their keys."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from isolane.server.models.common import Closed, Timestamp


class KVNamespaceCreate(Closed):
    # `title` is checked by the platform (its own error codes), so any JSON passes here.
    title: Any = Field(None, json_schema_extra={"type": "string"}, examples=["sessions"])
    namespace: str | None = Field(None, description="Admins: the owning namespace (default: default)")


class KVNamespace(Closed):
    id: str
    title: str
    namespace: str
    created_at: Timestamp


class KVNamespaceDeleted(Closed):
    id: str
    deleted: bool


class KeyInfo(Closed):
    name: str
    expiration: int | None = Field(description="Epoch seconds; null: never expires")
    metadata: Any = Field(description="The JSON stored with the value, or null")


class KeyDeleted(Closed):
    name: str
    deleted: bool
