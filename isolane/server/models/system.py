"""Health, readiness and the executors' state."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from isolane.server.models.common import Closed


class Health(Closed):
    status: Literal["ok"]


class Sandbox(Closed):
    mode: Literal["strict", "auto", "off"] = Field(description="`--sandbox`")
    active: list[str] = Field(description="the layers every executor runs inside (docs/security.md)")
    missing: dict[str, str] = Field(description="layers this host cannot give, and why")


class Ready(Closed):
    status: Literal["ready"]
    executors_alive: int
    sandbox: Sandbox


class ExecutorStats(BaseModel):
    # An executor that does not answer shows only index, pid, in_flight and alive.
    model_config = ConfigDict(extra="allow")
    index: int
    pid: int | None = Field(description="the executor process's host pid")
    in_flight: int
    alive: bool
    cordon: str | None = Field(None, description="the cordon whose namespaces it runs (null: the shared executors)")
    idle_isolates: int | None = None
    spare_isolates: int | None = None
    running: int | None = None
    evictions: int | None = None
    rss_bytes: int | None = None


class Executors(Closed):
    items: list[ExecutorStats]
    restarts: int = Field(description="Executors replaced since start")
    cursor: None
