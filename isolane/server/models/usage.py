"""A namespace's usage, counted per hour and per script."""

from __future__ import annotations

from pydantic import Field

from isolane.server.models.common import Closed, Timestamp


class Counters(Closed):
    invocations: int
    errors: dict[str, int] = Field(description="Invocations per error outcome")
    cpu_ms: float
    wall_ms: float
    subrequests: int


class HourUsage(Counters):
    hour: Timestamp


class ScriptUsage(Counters):
    script: str


class Usage(Closed):
    namespace: str
    since: Timestamp
    until: Timestamp
    script: str | None
    totals: Counters
    hours: list[HourUsage] = Field(description="Only the hours with invocations")
    scripts: list[ScriptUsage] | None = Field(description="Each script's totals (null when filtered by script)")
