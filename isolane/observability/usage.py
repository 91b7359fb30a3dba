"""Usage per namespace and script in hourly buckets, counted from the invocation records.

The record writer folds each batch it stores into `usage_hourly` in the same transaction
as the records themselves (`fold`): a record is counted exactly when it is stored, never
twice, and a batch that fails is neither stored nor counted. The fold is an upsert that
adds to the counters, so several servers writing into one database keep the counts exact.
An invocation counts in the hour it started (UTC, epoch ms at the hour's start).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from isolane.clock import to_iso
from isolane.sandbox.outcomes import Outcome
from isolane.store.database import Database
from isolane.store.schema import usage_hourly

if TYPE_CHECKING:
    from isolane.observability.records import InvocationRecord

HOUR_MS = 3_600_000

# Outcomes other than ok, by the column that counts them and the name the API gives them.
ERROR_COLUMNS = {
    Outcome.EXCEPTION.value: "exception",
    Outcome.EXCEEDED_CPU.value: "exceeded_cpu",
    Outcome.EXCEEDED_MEMORY.value: "exceeded_memory",
    Outcome.EXCEEDED_WALL_TIME.value: "exceeded_wall_time",
    Outcome.CANCELED.value: "canceled",
}
COUNTERS = ("invocations", *ERROR_COLUMNS.values(), "cpu_ms", "wall_ms", "subrequests")
KEY = ("namespace", "script", "hour")


def hour_of(ms: int) -> int:
    """Epoch ms at the start of the (UTC) hour holding `ms`."""
    return ms - ms % HOUR_MS


# ---- writing


def aggregate(records: Iterable[InvocationRecord]) -> list[dict[str, Any]]:
    """One row of counters per (namespace, script, hour) of the batch, in key order.

    The order is fixed so that concurrent writers take their row locks in the same order
    (no deadlocks on PostgreSQL), and each key appears once, as one upsert statement may
    not touch a row twice."""
    buckets: dict[tuple[str, str, int], dict[str, Any]] = {}
    for record in records:
        key = (record.namespace, record.script, hour_of(record.started_at))
        row = buckets.get(key)
        if row is None:
            row = buckets[key] = {**dict(zip(KEY, key)), **dict.fromkeys(COUNTERS, 0)}
            row["cpu_ms"] = row["wall_ms"] = 0.0
        row["invocations"] += 1
        error = ERROR_COLUMNS.get(record.outcome)
        if error is not None:
            row[error] += 1
        row["cpu_ms"] += record.cpu_ms
        row["wall_ms"] += record.wall_ms
        row["subrequests"] += record.subrequests
    return [buckets[key] for key in sorted(buckets)]


def upsert_statement(dialect_name: str) -> Any:
    """INSERT ... ON CONFLICT (namespace, script, hour) DO UPDATE SET x = x + excluded.x
    (the same syntax on SQLite and PostgreSQL)."""
    dialect_insert = sqlite_insert if dialect_name == "sqlite" else postgresql_insert
    statement = dialect_insert(usage_hourly)
    return statement.on_conflict_do_update(
        index_elements=[usage_hourly.c[name] for name in KEY],
        set_={name: usage_hourly.c[name] + statement.excluded[name] for name in COUNTERS},
    )


async def fold(conn: AsyncConnection, records: Iterable[InvocationRecord]) -> None:
    """Add a batch of records to the hourly counters, inside the caller's transaction."""
    rows = aggregate(records)
    if rows:
        await conn.execute(upsert_statement(conn.dialect.name), rows)


async def charge_cpu(conn: AsyncConnection, namespace: str, script: str, at_ms: int, cpu_ms: float) -> None:
    """Add CPU to a script's hour without an invocation: what an isolate ended by a limit
    burnt before it stopped (it ignored termination), after its record was stored."""
    row = {**dict(zip(KEY, (namespace, script, hour_of(at_ms)))), **dict.fromkeys(COUNTERS, 0)}
    row["cpu_ms"] = float(cpu_ms)
    row["wall_ms"] = 0.0
    await conn.execute(upsert_statement(conn.dialect.name), [row])


# ---- reading


@dataclass(frozen=True, slots=True)
class UsageQuery:
    namespace: str
    since: int  # epoch ms, a whole hour (inclusive)
    until: int  # epoch ms, a whole hour (exclusive)
    script: str | None = None


def _sums() -> list[Any]:
    return [func.sum(usage_hourly.c[name]).label(name) for name in COUNTERS]


def _counters(row: Any) -> dict[str, Any]:
    """A row of sums as the API shows it (PostgreSQL sums bigints as numeric: made ints)."""
    return {
        "invocations": int(row.invocations or 0),
        "errors": {
            outcome: int(getattr(row, column) or 0) for outcome, column in ERROR_COLUMNS.items()
        },
        "cpu_ms": round(float(row.cpu_ms or 0), 3),
        "wall_ms": round(float(row.wall_ms or 0), 3),
        "subrequests": int(row.subrequests or 0),
    }


async def read_usage(db: Database, query: UsageQuery) -> dict[str, Any]:
    """Totals, the hours with invocations, and (without a script filter) each script's totals."""
    where = [
        usage_hourly.c.namespace == query.namespace,
        usage_hourly.c.hour >= query.since,
        usage_hourly.c.hour < query.until,
    ]
    if query.script is not None:
        where.append(usage_hourly.c.script == query.script)
    async with db.connect() as conn:
        totals = (await conn.execute(select(*_sums()).where(*where))).one()
        hours = (
            await conn.execute(
                select(usage_hourly.c.hour, *_sums()).where(*where).group_by(usage_hourly.c.hour).order_by(usage_hourly.c.hour)
            )
        ).all()
        scripts = None
        if query.script is None:
            scripts = (
                await conn.execute(
                    select(usage_hourly.c.script, *_sums())
                    .where(*where)
                    .group_by(usage_hourly.c.script)
                    .order_by(usage_hourly.c.script)
                )
            ).all()
    return {
        "namespace": query.namespace,
        "since": to_iso(query.since),
        "until": to_iso(query.until),
        "script": query.script,
        "totals": _counters(totals),
        "hours": [{"hour": to_iso(row.hour), **_counters(row)} for row in hours],
        "scripts": None if scripts is None else [{"script": row.script, **_counters(row)} for row in scripts],
    }
