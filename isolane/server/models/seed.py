"""The seed contract's bodies: `POST /upload` and `POST /execute`."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from isolane.server.models.common import Closed
from isolane.server.models.invocations import OUTCOMES, LogEntry, ScriptError


class SeedId(Closed):
    id: str = Field(description="Derived from the code: the same code gets the same id", examples=["4a1b21d876ae00c8ed5c4d1cde09c61f"])


class ExecuteResult(Closed):
    id: str
    path: str = Field(description="Where the code is stored")
    result: Any = Field(description="The completion value as JSON (null when undefined)")
    logs: list[LogEntry]
    outcome: str = Field(description=OUTCOMES)
    error: ScriptError | None
    cpu_ms: float
    wall_ms: float
    invocation_id: str
