"""What one invocation produced: its record, console entries and uncaught error."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from isolane.sandbox.outcomes import OUTCOME_NAMES
from isolane.server.models.common import Closed, Timestamp

OUTCOMES = OUTCOME_NAMES  # the field descriptions


class LogEntry(Closed):
    level: str = Field(examples=["log"])
    message: str
    time: float = Field(description="Epoch milliseconds")


class ScriptError(BaseModel):
    """An uncaught exception of the script, or the limit that ended it."""

    model_config = ConfigDict(extra="allow")
    name: str | None
    message: str | None
    stack: str | None = None


class InvocationRecord(Closed):
    id: str
    namespace: str
    script: str
    version: str | None
    trigger: str = Field(description="fetch, cron, execute...")
    started_at: Timestamp
    outcome: str = Field(description=OUTCOMES)
    status: int | None = Field(description="The HTTP status answered (null when not a fetch)")
    cpu_ms: float
    wall_ms: float
    subrequests: int
    logs: list[LogEntry]
    error: ScriptError | None
