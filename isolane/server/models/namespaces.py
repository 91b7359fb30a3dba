"""A tenant namespace and its settings."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, with_config
from typing_extensions import NotRequired, TypedDict

from isolane.platform.names import DNS_LABEL
from isolane.platform.quotas import LIMIT_NAMES, MAX_QUOTA, MAX_RATE, QUOTA_NAMES
from isolane.server.models.common import Closed, Timestamp

ROUTE = "{namespace}/{script} of a script in another namespace, or null to remove it"
Route = Annotated[str, Field(pattern=f"^{DNS_LABEL.pattern}/{DNS_LABEL.pattern}$")]
Limit = Annotated[int, Field(gt=0, le=MAX_QUOTA)]
Count = Annotated[int, Field(ge=0, le=MAX_QUOTA)]


@with_config(ConfigDict(extra="forbid"))
class LimitSettings(TypedDict):
    """Maximums for the namespace's scripts (an upload asking more is refused)."""

    cpu_ms: NotRequired[Limit]
    memory_mb: NotRequired[Limit]
    wall_ms: NotRequired[Limit]
    subrequests: NotRequired[Limit]


@with_config(ConfigDict(extra="forbid"))
class QuotaSettings(TypedDict):
    """What the namespace may hold, and its request rate (`burst` needs `requests_per_second`)."""

    max_scripts: NotRequired[Count]
    max_code_bytes: NotRequired[Annotated[Count, Field(description="Bytes of its scripts' current versions")]]
    max_kv_namespaces: NotRequired[Count]
    requests_per_second: NotRequired[Annotated[float, Field(gt=0, le=MAX_RATE)]]
    burst: NotRequired[Annotated[Limit, Field(description="Default: one second's worth of requests_per_second")]]


class NamespaceSettings(BaseModel):
    """`PUT /v1/namespaces/{ns}`: each field given replaces that setting (null or {} clears it)."""

    model_config = ConfigDict(extra="forbid")
    limits: LimitSettings | None = Field(None, description="Per-invocation limits: " + ", ".join(LIMIT_NAMES))
    quotas: QuotaSettings | None = Field(None, description="Namespace quotas: " + ", ".join(QUOTA_NAMES))
    dispatcher: Route | None = Field(None, description="The dispatch worker: " + ROUTE, examples=["platform/router"])
    outbound: Route | None = Field(None, description="The outbound worker: " + ROUTE, examples=["platform/egress"])


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
