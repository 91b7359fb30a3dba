"""Typed results: pydantic models of the API's answers.

Unknown fields are kept (`extra="allow"`), so a newer server never breaks an older client;
`model_dump(mode="json")` gives the answer back as JSON-ready data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class Model(BaseModel):
    model_config = ConfigDict(extra="allow")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: `cursor` fetches the next one (None on the last page)."""

    items: list[T]
    cursor: str | None = None


# Tokens and namespaces


class Token(Model):
    id: str
    name: str
    scope: str
    read_only: bool = False
    created_at: datetime


class CreatedToken(Token):
    token: str
    """The secret: shown this once."""


class Namespace(Model):
    name: str
    created_at: datetime
    script_count: int = 0
    limits: dict[str, Any] = {}
    quotas: dict[str, Any] = {}
    dispatcher: str | None = None
    outbound: str | None = None


# Scripts, versions, deployments


class ModuleInfo(Model):
    name: str
    type: str
    size: int


class BindingInfo(Model):
    name: str
    type: str


class UploadResult(Model):
    """What an upload with PUT answers: the new version, deployed."""

    namespace: str
    name: str
    version_id: str
    handlers: list[str] = []
    created_at: datetime
    startup_time_ms: float | None = None


class ScriptSummary(Model):
    namespace: str
    name: str
    version_id: str
    format: str
    handlers: list[str] = []
    tags: list[str] = []
    size: int
    created_at: datetime
    modified_at: datetime


class Script(ScriptSummary):
    main_module: str | None = None
    modules: list[ModuleInfo] = []
    bindings: list[BindingInfo] = []
    limits: dict[str, Any] = {}
    compatibility_date: str | None = None
    compatibility_flags: list[str] = []
    startup_time_ms: float | None = None


class Version(Model):
    id: str
    created_at: datetime
    format: str
    size: int
    handlers: list[str] = []
    tags: list[str] = []
    main_module: str | None = None
    modules: list[ModuleInfo] = []
    bindings: list[BindingInfo] = []
    limits: dict[str, Any] = {}
    compatibility_date: str | None = None
    compatibility_flags: list[str] = []
    startup_time_ms: float | None = None
    percentage: float | None = None
    """Its share of the script's traffic now, or None when it is not deployed."""


class DeploymentVersion(Model):
    version_id: str
    percentage: float


class Deployment(Model):
    id: str
    created_at: datetime
    versions: list[DeploymentVersion]
    current: bool = False


@dataclass(frozen=True)
class ScriptContent:
    """A script's source as uploaded: raw, or multipart for several modules."""

    content: bytes
    content_type: str


# Settings of a script


class Secret(Model):
    name: str
    type: str = "secret_text"


class SecretChange(Model):
    name: str
    type: str | None = None
    version_id: str
    deleted: bool = False


class Schedule(Model):
    cron: str
    created_at: datetime | None = None


# Invocations and usage


class LogEntry(Model):
    level: str
    message: str
    time: int
    """Epoch milliseconds."""


class ErrorInfo(Model):
    name: str | None = None
    message: str | None = None
    stack: str | None = None


class InvocationRecord(Model):
    id: str
    namespace: str
    script: str
    version: str | None = None
    trigger: str
    started_at: datetime
    outcome: str
    status: int | None = None
    cpu_ms: float = 0
    wall_ms: float = 0
    subrequests: int = 0
    logs: list[LogEntry] = []
    error: ErrorInfo | None = None


class ScheduleTestResult(Model):
    invocation_id: str
    cron: str
    scheduled_time: int
    outcome: str
    error: ErrorInfo | None = None
    logs: list[LogEntry] = []
    cpu_ms: float = 0
    wall_ms: float = 0


class UsageFigures(Model):
    invocations: int = 0
    errors: dict[str, int] = {}
    cpu_ms: float = 0
    wall_ms: float = 0
    subrequests: int = 0


class HourUsage(UsageFigures):
    hour: datetime


class ScriptUsage(UsageFigures):
    script: str


class Usage(Model):
    namespace: str
    since: datetime
    until: datetime
    script: str | None = None
    totals: UsageFigures
    hours: list[HourUsage] = []
    scripts: list[ScriptUsage] | None = None


class ExecuteResult(Model):
    """The seed `/execute` answer: the script's completion value, logs and outcome."""

    id: str
    path: str
    result: Any = None
    logs: list[LogEntry] = []
    outcome: str
    error: ErrorInfo | None = None
    cpu_ms: float = 0
    wall_ms: float = 0
    invocation_id: str | None = None


# KV


class KVNamespace(Model):
    id: str
    title: str
    namespace: str
    created_at: datetime


class KVKey(Model):
    name: str
    expiration: int | None = None
    metadata: Any = None


# Live tail


class TailConnected(Model):
    namespace: str
    script: str
    outcomes: list[str] | None = None
    sample: float = 1.0


class TailDropped(Model):
    dropped: int
    total_dropped: int


TailEvent = TailConnected | InvocationRecord | TailDropped
"""What `tail()` yields: the stream's opening, each invocation's record, or a notice that
records were dropped because the consumer was slow."""


@dataclass(frozen=True)
class Module:
    """One module of a multipart upload: its name (a relative path), content and type."""

    name: str
    content: bytes | str
    content_type: str = "application/javascript+module"


# The server


class ExecutorStats(Model):
    """One executor process; one that did not answer shows only index, pid, in_flight, alive."""

    index: int
    pid: int | None = None
    in_flight: int = 0
    alive: bool
    idle_isolates: int | None = None
    spare_isolates: int | None = None
    running: int | None = None
    evictions: int | None = None
    rss_bytes: int | None = None


class Executors(Model):
    items: list[ExecutorStats]
    restarts: int

