"""Running a script version and recording it: one request, one record."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from isolane.clock import now_ms
from isolane.linker import SourceMap
from isolane.observability.metrics import Metrics
from isolane.observability.records import InvocationRecord, RecordStore, new_record_id
from isolane.platform.admission import Admission
from isolane.platform.calls import MAX_CONCURRENT_CALLS, SUBREQUESTS, CallContext, perform_call
from isolane.platform.deployed import StoredCodeDamaged
from isolane.platform.stacks import map_error
from isolane.sandbox.limits import Limits
from isolane.sandbox.outcomes import Outcome
from isolane.sandbox.supervisor import ExecutionResult, ScriptCode, ScriptRef, Supervisor

log = logging.getLogger(__name__)

# The HTTP status of an invocation that the platform turned into an error.
ERROR_STATUS = {
    Outcome.EXCEPTION: 500,
    Outcome.EXCEEDED_CPU: 503,
    Outcome.EXCEEDED_MEMORY: 503,
    Outcome.EXCEEDED_WALL_TIME: 504,
    Outcome.CANCELED: 503,
}


def script_file_name(ref: ScriptRef) -> str:
    """The name the runtime gives the script in stack traces."""
    return f"{ref.script}.js"


class Runner:
    def __init__(
        self, supervisor: Supervisor, records: RecordStore, metrics: Metrics | None = None, admission: Admission | None = None
    ) -> None:
        self._supervisor = supervisor
        self._records = records
        self.metrics = metrics if metrics is not None else Metrics()
        self.admission = admission
        self._charges: set[asyncio.Task[None]] = set()
        supervisor.on_late_cpu = self._late_cpu

    def _late_cpu(self, key: tuple[str, ...], cpu_ms: float) -> None:
        """An isolate ended by a limit kept burning CPU until it stopped: still counted, in
        the metrics and in the script's usage."""
        self.metrics.late_cpu(key[0], cpu_ms)
        task = asyncio.ensure_future(self._records.charge_late_cpu(key[0], key[1], cpu_ms))
        self._charges.add(task)
        task.add_done_callback(self._charges.discard)

    async def run(
        self,
        ref: ScriptRef,
        limits: Limits,
        trigger: str,
        load_code: Callable[[], Awaitable[ScriptCode]],
        *,
        call: dict[str, Any] | None = None,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        body: AsyncIterator[bytes] | None = None,
        source_map: SourceMap | None = None,
        record_id: str | None = None,
        context: CallContext | None = None,
        nested: bool = False,
        tenant: str | None = None,
    ) -> tuple[ExecutionResult, InvocationRecord]:
        """Run `call` on `ref` and record it. A fetch handler's response events reach
        `on_event` as they come (see `Supervisor.invoke`). It first takes a slot of the
        admission of `tenant` (by default the script's namespace; a dispatcher runs in the
        slot of the namespace it serves), unless it is `nested` in an invocation that holds
        one; `Overloaded` (503) when none is to be had."""
        if nested or self.admission is None:
            return await self._run(ref, limits, trigger, load_code, call, on_event, body, source_map, record_id, context)
        namespace = tenant or ref.namespace
        await self.admission.enter(namespace)
        try:
            return await self._run(ref, limits, trigger, load_code, call, on_event, body, source_map, record_id, context)
        finally:
            self.admission.leave(namespace)

    async def _run(
        self,
        ref: ScriptRef,
        limits: Limits,
        trigger: str,
        load_code: Callable[[], Awaitable[ScriptCode]],
        call: dict[str, Any] | None,
        on_event: Callable[[dict[str, Any]], None] | None,
        body: AsyncIterator[bytes] | None,
        source_map: SourceMap | None,
        record_id: str | None,
        context: CallContext | None,
    ) -> tuple[ExecutionResult, InvocationRecord]:
        started = now_ms()
        status: int | None = None

        calls: set[asyncio.Task[None]] = set()
        concurrent: asyncio.Semaphore | None = None  # made at the first call (most make none)

        def observe(event: dict[str, Any]) -> None:
            nonlocal status, concurrent
            kind = event["event"]
            if kind == "call":  # host calls only the server can answer (KV, fetch)
                if concurrent is None:
                    concurrent = asyncio.Semaphore(MAX_CONCURRENT_CALLS)
                for host_call in event["calls"]:
                    task = asyncio.ensure_future(self._answer(context, host_call, event["answer"], concurrent))
                    calls.add(task)
                    task.add_done_callback(calls.discard)
                return
            if kind == "response":
                status = int(event["response"].get("status") or 200)
            if on_event is not None:
                on_event(event)

        inflight = self.metrics.inflight
        inflight.inc()
        damaged: StoredCodeDamaged | None = None
        try:
            result = await self._supervisor.invoke(ref, limits, load_code, call, observe, body)
        except StoredCodeDamaged as exc:  # its code could not be loaded: it never ran
            damaged = exc
            result = ExecutionResult(outcome=Outcome.CANCELED, error={"name": "InternalError", "message": exc.message, "stack": None})
        finally:
            inflight.dec()
        for task in calls:  # answers nobody will read: the invocation is over
            task.cancel()
        if context is not None:
            await context.usage.close()
        result.error = map_error(result.error, script_file_name(ref), source_map)
        if status is None and result.outcome is not Outcome.OK and call is not None and call.get("op") == "fetch":
            status = ERROR_STATUS.get(result.outcome, 500)
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
            status=status,
            subrequests=context.usage.subrequests if context is not None else 0,
            started_at=started,
            id=record_id or new_record_id(),
        )
        self._records.submit(record)
        self.metrics.observe(
            record.namespace, trigger, record.outcome, result.wall_ms, result.cpu_ms, result.cold, record.subrequests
        )
        if damaged is not None:
            log.error("invocation %s of %s/%s: %s", record.id, ref.namespace, ref.script, damaged.message)
            raise damaged
        return result, record

    @staticmethod
    async def _answer(
        context: CallContext | None, host_call: dict[str, Any], answer: Callable[..., None], concurrent: asyncio.Semaphore
    ) -> None:
        op, args = str(host_call.get("op")), host_call.get("args")
        if context is None:
            ok, value = False, {"name": "NotSupportedError", "message": f"{op} is not available here"}
        elif op in SUBREQUESTS:
            async with concurrent:  # an invocation's subrequests beyond the first few wait their turn
                ok, value = await perform_call(context, op, args)
        else:  # a continuation (a streamed body's read or write) never waits: its fetch holds a turn
            ok, value = await perform_call(context, op, args)
        answer(host_call.get("id"), ok, value)
