"""A tenant namespace and its settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from isolane.platform.quotas import LIMIT_NAMES, QUOTA_NAMES
from isolane.server.models.common import Closed, Timestamp

ROUTE = "{namespace}/{script} of a script in another namespace, or null to remove it"


class NamespaceSettings(BaseModel):
    """`PUT /v1/namespaces/{ns}`: each field given replaces that setting (null or {} clears it)."""

    model_config = ConfigDict(extra="forbid")
    limits: dict[str, int] | None = Field(None, description="Per-invocation limits: " + ", ".join(LIMIT_NAMES))
    quotas: dict[str, float] | None = Field(None, description="Namespace quotas: " + ", ".join(QUOTA_NAMES))
    dispatcher: str | None = Field(None, description="The dispatch worker: " + ROUTE, examples=["platform/router"])
    outbound: str | None = Field(None, description="The outbound worker: " + ROUTE, examples=["platform/egress"])


class Namespace(Closed):
    name: str
    created_at: Timestamp
    script_count: int
    limits: dict[str, int]
    quotas: dict[str, float]
    dispatcher: str | None
    outbound: str | None


class NamespaceDeleted(Closed):
    name: str
    deleted: bool
