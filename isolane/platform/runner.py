"""Running a script version and recording it: one request, one record."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from isolane.clock import now_ms
from isolane.observability.records import InvocationRecord, RecordStore
from isolane.sandbox.limits import Limits
from isolane.sandbox.supervisor import ExecutionResult, ScriptRef, Supervisor


class Runner:
    def __init__(self, supervisor: Supervisor, records: RecordStore) -> None:
        self._supervisor = supervisor
        self._records = records

    async def run(
        self,
        ref: ScriptRef,
        limits: Limits,
        trigger: str,
        load_code: Callable[[], Awaitable[str]],
    ) -> tuple[ExecutionResult, InvocationRecord]:
        started = now_ms()
        result = await self._supervisor.invoke(ref, limits, load_code)
        record = InvocationRecord(
            namespace=ref.namespace,
            script=ref.script,
            version=ref.version,
            trigger=trigger,
            outcome=result.outcome.value,
            cpu_ms=result.cpu_ms,
            wall_ms=result.wall_ms,
            logs=result.logs,
            error=result.error,
            started_at=started,
        )
        self._records.submit(record)
        return result, record
