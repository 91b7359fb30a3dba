"""The numbers behind the script page's charts, read from a real store: the latency
percentiles come from the records' timings alone, never their logs."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import event, insert

from isolane.dashboard.timeline import HOURS, script_timeline
from isolane.observability.records import InvocationRecord, RecordStore
from isolane.observability.usage import HOUR_MS, hour_of
from isolane.store.database import Database
from isolane.store.schema import namespaces

LOGS = [{"level": "log", "message": "LOGTEXT" * 2000, "time": 0}]


def test_the_timeline_reads_timings_without_logs(tmp_path: Path) -> None:
    async def scenario() -> None:
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}")
        await db.migrate()
        async with db.transaction() as conn:  # records are stored for a namespace that exists
            await conn.execute(insert(namespaces).values(name="ns", created_at=0))
        store = RecordStore(db)
        now = 1_700_000_000_000
        this_hour = hour_of(now)
        await store._write(
            [
                InvocationRecord(
                    namespace="ns", script="s", version="v", trigger="fetch", outcome="ok", cpu_ms=1.0,
                    wall_ms=float(wall), logs=LOGS, started_at=this_hour + wall, id=f"{this_hour + wall:012x}{wall:020x}",
                )
                for wall in range(1, 101)
            ]
        )
        statements: list[str] = []
        event.listen(db.engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        timeline = await script_timeline(SimpleNamespace(db=db, records=store), "ns", "s", now=now)
        assert len(timeline.hours) == HOURS and timeline.sampled == 100
        last = timeline.hours[-1]
        assert (last.start, last.invocations, last.p50_ms, last.p95_ms) == (this_hour, 100, 50.0, 95.0)
        assert last.mean_ms == sum(range(1, 101)) / 100
        assert timeline.hours[-2].start == this_hour - HOUR_MS and timeline.hours[-2].p50_ms is None
        invocation_reads = [sql for sql in statements if "FROM invocations" in sql]
        assert invocation_reads, statements
        for sql in invocation_reads:
            assert "logs" not in sql, sql
        await db.close()

    asyncio.run(scenario())
