"""Cron triggers: each script's schedules, running a tick, and the scheduler that runs them.

A script's schedules live in table `schedules` (script settings, as in Workers: not part of
a version, so changing them deploys nothing). An upload whose metadata has
`triggers: {"crons": [...]}` replaces them, and so does `PUT .../schedules`.

Every server runs a `Scheduler`. At start and at each minute boundary (each second while
any schedule has a seconds field) it reads the schedules and, for each tick that fell due
since it last looked, tries to INSERT the row (namespace, script, cron, tick) into
`cron_leases`: the primary key lets exactly one server win, and only the winner runs the
tick. So a tick runs once however many servers share the database, and a tick no server was
up for is not run later (except the current one, at start).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from isolane.clock import now_ms, to_iso
from isolane.errors import IsolaneError, NotFound
from isolane.observability.records import InvocationRecord, new_record_id
from isolane.platform.admission import Overloaded
from isolane.platform.cron import Cron, CronError, parse
from isolane.platform.dispatch import context_for
from isolane.platform.triggers import parse_crons, replace
from isolane.platform.runner import Runner
from isolane.platform.scripts import Deployment, ScriptService
from isolane.sandbox.supervisor import ExecutionResult
from isolane.store.database import Database
from isolane.store.schema import cron_leases, schedules

log = logging.getLogger(__name__)

TRIGGER = "cron"  # the invocation records' trigger
LOOKBACK_MS = 5 * 60_000  # a scheduler that woke late runs ticks at most this old
TICKS_PER_WAKE = 10  # per schedule, the latest ones
LEASE_RETENTION_MS = 24 * 3_600_000


@dataclass(frozen=True, slots=True)
class Schedule:
    namespace: str
    script: str
    cron: Cron
    created_at: int


class ScheduleService:
    def __init__(self, db: Database, scripts: ScriptService, runner: Runner, services: Any) -> None:
        self._db = db
        self._scripts = scripts
        self._runner = runner
        self._services = services  # for the CallContext of a run (KV, fetch)
        self.changed = asyncio.Event()  # set when this server changed schedules
        scripts.schedules_changed = self.changed.set  # uploads replace them too

    async def list(self, namespace: str, script: str) -> list[dict[str, Any]]:
        async with self._db.connect() as conn:
            await self._scripts.require(conn, namespace, script)
            rows = await conn.execute(
                select(schedules.c.cron, schedules.c.created_at)
                .where(schedules.c.namespace == namespace, schedules.c.script == script)
                .order_by(schedules.c.created_at, schedules.c.cron)
            )
            return [{"cron": row.cron, "created_at": to_iso(row.created_at)} for row in rows]

    async def put(self, namespace: str, script: str, crons: list[str]) -> list[dict[str, Any]]:
        async with self._db.transaction() as conn:
            await self._scripts.require(conn, namespace, script)
            await replace(conn, namespace, script, crons, now_ms())
        self.changed.set()
        return await self.list(namespace, script)

    async def all(self) -> list[Schedule]:
        async with self._db.connect() as conn:
            rows = (await conn.execute(select(schedules))).all()
        found: list[Schedule] = []
        for row in rows:
            try:
                found.append(Schedule(row.namespace, row.script, parse(row.cron), row.created_at))
            except CronError:  # stored by a server that understood more: not ours to run
                continue
        return found

    async def run(
        self, deployment: Deployment, cron: str, scheduled_time: int, record_id: str | None = None
    ) -> tuple[ExecutionResult, InvocationRecord]:
        """Run the deployment's scheduled handler for one tick and record it."""

        async def load_code() -> Any:
            return await self._scripts.code(deployment)

        return await self._runner.run(
            deployment.ref,
            deployment.limits,
            TRIGGER,
            load_code,
            call={"op": "scheduled", "cron": cron, "scheduledTime": scheduled_time},
            source_map=await self._scripts.source_map(deployment),
            record_id=record_id,
            context=context_for(deployment, self._services()),
        )

    async def test(self, namespace: str, script: str, cron: str | None) -> tuple[ExecutionResult, InvocationRecord, str, int]:
        """`POST .../schedules/test`: run the scheduled handler once, now (no lease)."""
        if cron is not None:
            cron = parse_crons([cron])[0]
        else:
            listed = await self.list(namespace, script)
            cron = listed[0]["cron"] if listed else ""
        deployment = await self.scheduled_deployment(namespace, script)
        scheduled_time = now_ms()
        result, record = await self.run(deployment, cron, scheduled_time)
        return result, record, cron, scheduled_time

    async def scheduled_deployment(self, namespace: str, script: str) -> Deployment:
        deployment = await self._scripts.deployed(namespace, script)
        if "scheduled" not in deployment.handlers:
            raise NotFound(
                f"script {script!r} has no scheduled handler (its handlers: {', '.join(deployment.handlers) or 'none'})",
                code="no_scheduled_handler",
            )
        return deployment

    async def claim(self, schedule: Schedule, tick: int, record_id: str) -> bool:
        """Whether this server won the tick (the first INSERT of its lease)."""
        try:
            async with self._db.transaction() as conn:
                await conn.execute(
                    insert(cron_leases).values(
                        namespace=schedule.namespace,
                        script=schedule.script,
                        cron=schedule.cron.expression,
                        tick=tick,
                        claimed_at=now_ms(),
                        invocation_id=record_id,
                    )
                )
        except IntegrityError:
            return False
        return True

    async def prune(self, now: int) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(delete(cron_leases).where(cron_leases.c.tick < now - LEASE_RETENTION_MS))


class Scheduler:
    """The background task of one server that runs due cron ticks."""

    def __init__(self, service: ScheduleService) -> None:
        self._service = service
        self._task: asyncio.Task[None] | None = None
        self._runs: set[asyncio.Task[Any]] = set()
        self._last_prune = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="isolane-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._runs:  # let started ticks finish (each is bounded by its wall clock)
            await asyncio.gather(*self._runs, return_exceptions=True)

    async def _loop(self) -> None:
        now = now_ms()
        last = now - now % 60_000 - 1  # at start, the current minute's tick is due too
        while True:
            seconds = False
            self._service.changed.clear()  # before reading: a change from now on wakes us
            try:
                now = now_ms()
                seconds = await self.run_due(last, now)
                last = now
                if now - self._last_prune > 3_600_000:
                    self._last_prune = now
                    await self._service.prune(now)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the scheduler failed to run due cron ticks")
            step = 1000 if seconds else 60_000
            delay = (step - now_ms() % step) / 1000 + 0.005
            try:  # a local change of schedules looks again at once (a seconds cron starts now)
                await asyncio.wait_for(self._service.changed.wait(), delay)
            except TimeoutError:
                pass

    async def run_due(self, after: int, until: int) -> bool:
        """Start the ticks in (after, until] this server wins; whether any schedule has seconds."""
        after = max(after, until - LOOKBACK_MS)
        any_seconds = False
        for schedule in await self._service.all():
            any_seconds = any_seconds or schedule.cron.has_seconds
            ticks = [t for t in schedule.cron.ticks(after, until, TICKS_PER_WAKE) if t >= schedule.created_at - schedule.created_at % 1000]
            if ticks:
                self._start(schedule, ticks)
        return any_seconds

    def _start(self, schedule: Schedule, ticks: list[int]) -> None:
        task = asyncio.get_running_loop().create_task(self._run_ticks(schedule, ticks))
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)

    async def _run_ticks(self, schedule: Schedule, ticks: Iterable[int]) -> None:
        try:
            deployment = await self._service.scheduled_deployment(schedule.namespace, schedule.script)
        except IsolaneError:
            return  # no scheduled handler (or the script is gone): nothing to run
        for tick in ticks:
            try:
                record_id = new_record_id()
                if await self._service.claim(schedule, tick, record_id):
                    await self._service.run(deployment, schedule.cron.expression, tick, record_id)
            except Overloaded:
                # Ticks take slots like requests do; one refused is not retried (as a failed one).
                log.warning("cron tick %s of %s/%s refused: the server is overloaded", tick, schedule.namespace, schedule.script)
            except Exception:
                log.exception("cron tick %s of %s/%s failed", tick, schedule.namespace, schedule.script)
