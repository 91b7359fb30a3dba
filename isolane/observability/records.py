"""One request, one record: every invocation's outcome, timings, logs and error.

Records are written by a background task in batches, so an invocation never waits on the
database; the writer flushes what it holds when the server stops. Each batch is counted
into the hourly usage in the same transaction (`usage.fold`).

A record whose namespace was deleted while it ran is neither stored nor counted: the writer
keeps only records whose namespace exists and was created before they started (`current`),
so a namespace created again under the same name never finds the old one's records.

Retention (`RecordSweeper`): a background task deletes records older than the maximum age
and, per script, all but the newest N, every minute (and once shortly after start), in
small batches, never on the invocation path. Usage counters are not touched by it. It also
runs the sweeps it is given (`also`): finishing namespace deletions a crash interrupted.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import and_, delete, func, insert, select

from isolane.clock import now_ms, to_iso
from isolane.observability.usage import charge_cpu
from isolane.observability.usage import fold as fold_usage
from isolane.store.database import Database
from isolane.store.schema import invocations, namespaces

log = logging.getLogger(__name__)

BATCH_SIZE = 200
FLUSH_SECONDS = 0.05
MAX_QUEUE = 50_000
DELETE_BATCH = 500  # records deleted per statement (and transaction) by the sweeper
FIRST_SWEEP_SECONDS = 5.0  # the first sweep after start, unless the sweep period is shorter
DAY_MS = 86_400_000
# A record that started up to this long before its namespace was created (by the clock of
# another server) is the namespace's; one that started earlier belongs to a deleted
# namespace of the same name. A name is created again at least 3 s after its deletion
# (platform/deletion.py SETTLE_MS), and no server starts a deleted namespace's invocation
# more than 1 s after it (its cached deployments expire), so the two never meet.
CREATION_SKEW_MS = 1_000


def new_record_id() -> str:
    """32 hex digits that sort by creation time: 12 of milliseconds, 20 random."""
    return f"{now_ms():012x}{secrets.token_hex(10)}"


@dataclass(slots=True)
class InvocationRecord:
    namespace: str
    script: str
    version: str
    trigger: str
    outcome: str
    cpu_ms: float
    wall_ms: float
    logs: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None
    status: int | None = None
    subrequests: int = 0
    started_at: int = field(default_factory=now_ms)
    id: str = field(default_factory=new_record_id)

    def to_row(self, stored_at: int | None = None, instance: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "namespace": self.namespace,
            "script": self.script,
            "version": self.version,
            "trigger": self.trigger,
            "started_at": self.started_at,
            "outcome": self.outcome,
            "status": self.status,
            "cpu_ms": self.cpu_ms,
            "wall_ms": self.wall_ms,
            "subrequests": self.subrequests,
            "logs": orjson.dumps(self.logs).decode(),
            "error": orjson.dumps(self.error).decode() if self.error is not None else None,
            "stored_at": stored_at,
            "instance": instance,
        }

    def view(self) -> dict[str, Any]:
        """The record as the API shows it, without a trip through the database."""
        return _view(self, self.logs, self.error)


class RecordStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        # Tells this server's records from other servers' in the shared store (live tail).
        self.instance = secrets.token_hex(8)
        # Called with each record as it is submitted (the live tail); must not block.
        self.listeners: list[Callable[[InvocationRecord], None]] = []
        # Submitted, not yet stored: `get` finds them here, so an invocation's record can be
        # read from this server as soon as its response has left.
        self._pending: dict[str, InvocationRecord] = {}
        self._queue: asyncio.Queue[InvocationRecord] = asyncio.Queue(MAX_QUEUE)
        self._task: asyncio.Task[None] | None = None
        self._batch: list[InvocationRecord] = []  # taken from the queue, not yet written
        self._writing: asyncio.Future[None] | None = None  # the write of `_batch`, once begun
        self._insert: Any = None  # the INSERT, compiled once for the database's dialect
        self.dropped = 0
        self.discarded = 0  # records of namespaces deleted while they ran: not stored

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="record-writer")

    def submit(self, record: InvocationRecord) -> None:
        for listener in self.listeners:
            try:
                listener(record)
            except Exception:  # noqa: BLE001 - a listener's failure must not lose the record
                log.exception("invocation record listener failed")
        try:
            self._queue.put_nowait(record)
            self._pending[record.id] = record
        except asyncio.QueueFull:
            self.dropped += 1
            log.error("invocation record queue full: dropped record %s", record.id)

    async def _run(self) -> None:
        while True:
            self._batch = [await self._queue.get()]
            await asyncio.sleep(FLUSH_SECONDS)
            while len(self._batch) < BATCH_SIZE and not self._queue.empty():
                self._batch.append(self._queue.get_nowait())
            # Shielded: stopping must not cut a write short (whether it had committed would
            # be unknown); `stop` waits for it instead.
            self._writing = asyncio.ensure_future(self._write(self._batch))
            await asyncio.shield(self._writing)
            self._batch, self._writing = [], None

    async def _write(self, batch: list[InvocationRecord]) -> None:
        try:
            async with self._db.transaction() as conn:
                # Straight to the driver: at thousands of records a second, the Core
                # statement's per-row parameter processing was a visible cost.
                if self._insert is None:
                    self._insert = insert(invocations).compile(dialect=conn.dialect)
                stored_at = now_ms()
                rows = [record.to_row(stored_at, self.instance) for record in batch]
                order = self._insert.positiontup
                params = [tuple(row[name] for name in order) for row in rows] if self._insert.positional and order else rows
                await conn.exec_driver_sql(str(self._insert), params)
                # After the INSERT: its write lock comes first (SQLite), so the namespaces
                # read here stay as they are until the batch commits.
                kept = await current(conn, batch)
                if len(kept) < len(batch):
                    ids = {record.id for record in kept}
                    gone = [record.id for record in batch if record.id not in ids]
                    await conn.execute(delete(invocations).where(invocations.c.id.in_(gone)))
                    self.discarded += len(gone)
                    log.info("discarded %d invocation records of deleted namespaces", len(gone))
                await fold_usage(conn, kept)
        except Exception:  # noqa: BLE001 - a failed batch must not stop the writer
            self.dropped += len(batch)  # lost: counted in isolane_records_dropped_total
            log.exception("could not store %d invocation records", len(batch))
        finally:
            for record in batch:
                self._pending.pop(record.id, None)

    async def charge_late_cpu(self, namespace: str, script: str, cpu_ms: float) -> None:
        """Count CPU an isolate burnt after its invocation ended at a limit (it ignored
        termination) in the script's usage, if its namespace still exists."""
        try:
            async with self._db.transaction() as conn:
                query = select(namespaces.c.name).where(namespaces.c.name == namespace).with_for_update(read=True)
                if (await conn.execute(query)).first() is not None:
                    await charge_cpu(conn, namespace, script, now_ms(), cpu_ms)
        except Exception:  # noqa: BLE001 - usage is best effort here; the metric counts it too
            log.exception("could not count %.1f ms of late CPU of %s/%s", cpu_ms, namespace, script)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._writing is not None:  # the batch is being written: let that finish
            await self._writing
            self._batch, self._writing = [], None
        remaining, self._batch = self._batch, []
        while not self._queue.empty():
            remaining.append(self._queue.get_nowait())
        for start in range(0, len(remaining), BATCH_SIZE):
            await self._write(remaining[start : start + BATCH_SIZE])

    async def get(self, record_id: str) -> dict[str, Any] | None:
        pending = self._pending.get(record_id)
        if pending is not None:
            return pending.view()
        async with self._db.connect() as conn:
            row = (await conn.execute(select(invocations).where(invocations.c.id == record_id))).first()
        if row is None:
            return None
        return record_view(row)

    async def list(
        self,
        namespace: str,
        script: str,
        *,
        limit: int,
        cursor: str | None = None,
        outcome: str | None = None,
        trigger: str | None = None,
        since: int | None = None,
        until: int | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a script's records, newest first; the cursor is the page's last id
        (None when nothing older matches). `since` is inclusive, `until` exclusive (epoch ms)."""
        where = _script_records(namespace, script, cursor=cursor, outcome=outcome, trigger=trigger, since=since, until=until)
        query = select(invocations).where(where).order_by(invocations.c.id.desc()).limit(limit + 1)
        async with self._db.connect() as conn:
            rows = (await conn.execute(query)).all()
        more = len(rows) > limit
        items = [record_view(row) for row in rows[:limit]]
        return items, (items[-1]["id"] if more else None)

    async def summaries(self, namespace: str, script: str, *, limit: int) -> list[dict[str, Any]]:
        """A script's newest records without their logs and error (a listing's rows: logs
        can be 256 Ki characters each), newest first; the keys are SUMMARY_FIELDS."""
        columns = [invocations.c[name] for name in SUMMARY_FIELDS]
        query = select(*columns).where(_script_records(namespace, script)).order_by(invocations.c.id.desc()).limit(limit)
        async with self._db.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [{**row._asdict(), "started_at": to_iso(row.started_at)} for row in rows]

    async def timings(
        self, namespace: str, script: str, *, limit: int, since: int | None = None, until: int | None = None
    ) -> list[tuple[int, float]]:
        """(started_at in epoch ms, wall_ms) of a script's newest records in [since, until),
        newest first: what latency percentiles need, and nothing more."""
        where = _script_records(namespace, script, since=since, until=until)
        query = select(invocations.c.started_at, invocations.c.wall_ms).where(where).order_by(invocations.c.id.desc()).limit(limit)
        async with self._db.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [(int(started_at), float(wall_ms)) for started_at, wall_ms in rows]


async def current(conn: Any, batch: list[InvocationRecord]) -> list[InvocationRecord]:
    """The records of `batch` whose namespace exists and is the one they ran in (created
    before they started, give or take CREATION_SKEW_MS), inside the caller's transaction.
    The namespaces' rows are share-locked (PostgreSQL; SQLite has one writer at a time), so
    a deletion waits for this batch and then deletes its records with the rest."""
    names = sorted({record.namespace for record in batch})
    query = select(namespaces.c.name, namespaces.c.created_at).where(namespaces.c.name.in_(names)).with_for_update(read=True)
    created = {row.name: row.created_at for row in await conn.execute(query)}
    return [
        record
        for record in batch
        if record.namespace in created and record.started_at >= created[record.namespace] - CREATION_SKEW_MS
    ]


# The columns of `RecordStore.summaries`: every column stored before `logs` (SQLite reads a
# row's columns in order, so these never touch a large log's overflow pages).
SUMMARY_FIELDS = ("id", "namespace", "script", "version", "trigger", "started_at", "outcome", "status", "cpu_ms", "wall_ms")


def _script_records(
    namespace: str,
    script: str,
    *,
    cursor: str | None = None,
    outcome: str | None = None,
    trigger: str | None = None,
    since: int | None = None,
    until: int | None = None,
) -> Any:
    """The WHERE clause selecting a script's records, filtered."""
    where = [invocations.c.namespace == namespace, invocations.c.script == script]
    if cursor is not None:
        where.append(invocations.c.id < cursor)
    if outcome is not None:
        where.append(invocations.c.outcome == outcome)
    if trigger is not None:
        where.append(invocations.c.trigger == trigger)
    if since is not None:
        where.append(invocations.c.started_at >= since)
    if until is not None:
        where.append(invocations.c.started_at < until)
    return and_(*where)


class RecordSweeper:
    """Retention of invocation records, by age and by count per script, in the background."""

    def __init__(
        self,
        db: Database,
        *,
        max_age_days: int,
        max_per_script: int,
        period_seconds: float,
        also: Sequence[Callable[[], Awaitable[int]]] = (),
    ) -> None:
        self._db = db
        self.max_age_days = max_age_days
        self.max_per_script = max_per_script
        self.period_seconds = period_seconds
        self._also = tuple(also)  # other sweeps of the same rhythm (each returns the rows it deleted)
        self._task: asyncio.Task[None] | None = None
        self.deleted = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="record-sweeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        await asyncio.sleep(min(FIRST_SWEEP_SECONDS, self.period_seconds))
        while True:
            try:
                await self.sweep()
            except Exception:  # noqa: BLE001 - a failed sweep must not stop the next ones
                log.exception("invocation record retention sweep failed")
            await asyncio.sleep(self.period_seconds)

    async def sweep(self) -> int:
        """Delete what retention allows, in batches of DELETE_BATCH; the number deleted."""
        deleted = 0
        if self.max_age_days > 0:
            # Ids begin with their creation time in ms (hex, fixed width): a key range.
            boundary = f"{max(0, now_ms() - self.max_age_days * DAY_MS):012x}"
            deleted += await self._delete_batches(invocations.c.id < boundary)
        if self.max_per_script > 0:
            deleted += await self._sweep_counts()
        if deleted:
            log.info("invocation record retention: deleted %d records", deleted)
        self.deleted += deleted
        for sweep in self._also:  # they log what they do
            await sweep()
        return deleted

    async def _sweep_counts(self) -> int:
        c = invocations.c
        async with self._db.connect() as conn:
            over = (
                await conn.execute(
                    select(c.namespace, c.script)
                    .group_by(c.namespace, c.script)
                    .having(func.count() > self.max_per_script)
                )
            ).all()
        deleted = 0
        for namespace, script in over:
            async with self._db.connect() as conn:
                # The newest record past the limit: it and everything older go.
                boundary = (
                    await conn.execute(
                        select(c.id)
                        .where(c.namespace == namespace, c.script == script)
                        .order_by(c.id.desc())
                        .offset(self.max_per_script)
                        .limit(1)
                    )
                ).scalar()
            if boundary is not None:
                deleted += await self._delete_batches(and_(c.namespace == namespace, c.script == script, c.id <= boundary))
        return deleted

    async def _delete_batches(self, condition: Any) -> int:
        deleted = 0
        while True:
            batch = select(invocations.c.id).where(condition).order_by(invocations.c.id).limit(DELETE_BATCH)
            async with self._db.transaction() as conn:
                result = await conn.execute(delete(invocations).where(invocations.c.id.in_(batch.scalar_subquery())))
            count = result.rowcount or 0
            deleted += count
            if count < DELETE_BATCH:
                return deleted
            await asyncio.sleep(0)  # let requests and the record writer in between batches


def record_view(row: Any) -> dict[str, Any]:
    """A record as the API shows it (`GET /v1/invocations/{id}`, the per-script listing and
    the live tail).

    `logs` are the console entries, `{"level", "message", "time"}` (`time` in epoch ms),
    already truncated by the runtime at the documented sizes (README, Limits: 1,000
    entries, 256 Ki characters, 16 Ki per message, then one "truncated" entry). `error`
    is null or `{"name", "message", "stack"}` (`stack` may be null).
    """
    return _view(row, orjson.loads(row.logs), orjson.loads(row.error) if row.error else None)


def _view(source: Any, logs: list[dict[str, Any]], error: Any) -> dict[str, Any]:
    if isinstance(error, dict):
        error = {"name": error.get("name"), "message": error.get("message"), "stack": error.get("stack"), **error}
    return {
        "id": source.id,
        "namespace": source.namespace,
        "script": source.script,
        "version": source.version,
        "trigger": source.trigger,
        "started_at": to_iso(source.started_at),
        "outcome": source.outcome,
        "status": source.status,
        "cpu_ms": source.cpu_ms,
        "wall_ms": source.wall_ms,
        "subrequests": source.subrequests,
        "logs": logs,
        "error": error,
    }
