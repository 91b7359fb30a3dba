"""A script's cron triggers and a test run of its scheduled handler."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, RootModel

from isolane.platform.cron import MAX_EXPRESSION_LENGTH
from isolane.platform.triggers import MAX_SCHEDULES
from isolane.server.models.common import Closed, Timestamp
from isolane.server.models.invocations import OUTCOMES, LogEntry, ScriptError

Cron = Annotated[str, Field(max_length=MAX_EXPRESSION_LENGTH, examples=["*/5 * * * *"])]


class CronList(Closed):
    crons: list[Cron] = Field(max_length=MAX_SCHEDULES)


class CronEntry(Closed):
    cron: Cron


class SchedulesPut(RootModel[CronList | Annotated[list[CronEntry], Field(max_length=MAX_SCHEDULES)]]):
    """`{"crons": [...]}`, or Cloudflare's `[{"cron": "..."}]`: replaces the script's triggers."""


class ScheduleTestRequest(Closed):
    cron: Cron | None = Field(None, description="Default: the script's first schedule")


class Schedule(Closed):
    cron: str
    created_at: Timestamp


class ScheduleTestResult(Closed):
    invocation_id: str
    cron: str
    scheduled_time: int = Field(description="Epoch milliseconds, as the handler saw it")
    outcome: str = Field(description=OUTCOMES)
    error: ScriptError | None
    logs: list[LogEntry]
    cpu_ms: float
    wall_ms: float
