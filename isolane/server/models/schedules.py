"""A script's cron triggers and a test run of its scheduled handler."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Discriminator, Field, RootModel, Tag

from isolane.platform.cron import MAX_EXPRESSION_LENGTH
from isolane.platform.triggers import MAX_SCHEDULES
from isolane.server.models.common import Closed, Timestamp
from isolane.server.models.invocations import OUTCOMES, LogEntry, ScriptError

Cron = Annotated[str, Field(max_length=MAX_EXPRESSION_LENGTH, examples=["*/5 * * * *"])]


class CronList(Closed):
    crons: list[Cron] = Field(max_length=MAX_SCHEDULES)


class CronEntry(Closed):
    cron: Cron


def _shape(value: Any) -> str | None:
    return "object" if isinstance(value, dict) else "array" if isinstance(value, list) else None


# Told apart by their JSON type, so an error names the form that was sent.
CronForms = Annotated[
    Annotated[CronList, Tag("object")] | Annotated[list[CronEntry], Field(max_length=MAX_SCHEDULES), Tag("array")],
    Discriminator(_shape, custom_error_type="invalid_cron", custom_error_message='send {"crons": [...]} or [{"cron": "..."}]'),
]


class SchedulesPut(RootModel[CronForms]):
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
