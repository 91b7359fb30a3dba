"""Retention of invocation records: by age (the id's time prefix) and by count per script,
deleted in batches; other scripts and recent records stay."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, insert, select

from isolane.clock import now_ms
from isolane.observability import records as records_module
from isolane.observability.records import DAY_MS, InvocationRecord, RecordStore, RecordSweeper
from isolane.store.database import Database
from isolane.store.schema import invocations, namespaces


def record(script: str, at: int, n: int) -> InvocationRecord:
    return InvocationRecord(
        namespace="ns", script=script, version="v", trigger="fetch", outcome="ok", cpu_ms=1, wall_ms=1,
        started_at=at, id=f"{at:012x}{n:020x}",
    )


def test_sweep_by_age_and_count_in_batches(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(records_module, "DELETE_BATCH", 7)  # several batches per deletion

    async def scenario() -> None:
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}")
        await db.migrate()
        async with db.transaction() as conn:  # records are stored for a namespace that exists
            await conn.execute(insert(namespaces).values(name="ns", created_at=0))
        store = RecordStore(db)
        now = now_ms()
        old = [record("a", now - 8 * DAY_MS + i, i) for i in range(20)]  # past 7 days
        recent_a = [record("a", now - 1000 + i, 100 + i) for i in range(30)]
        recent_b = [record("b", now - 1000 + i, 200 + i) for i in range(10)]
        await store._write(old + recent_a + recent_b)
        sweeper = RecordSweeper(db, max_age_days=7, max_per_script=12, period_seconds=60)
        assert await sweeper.sweep() == 20 + 18
        async with db.connect() as conn:
            kept = (await conn.execute(select(invocations.c.script, invocations.c.id).order_by(invocations.c.id))).all()
        assert [row.id for row in kept if row.script == "a"] == [r.id for r in recent_a[-12:]]
        assert [row.id for row in kept if row.script == "b"] == [r.id for r in recent_b]
        assert await sweeper.sweep() == 0
        off = RecordSweeper(db, max_age_days=0, max_per_script=0, period_seconds=60)
        assert await off.sweep() == 0
        async with db.connect() as conn:
            assert (await conn.execute(select(func.count()).select_from(invocations))).scalar() == 22
        await db.close()

    asyncio.run(scenario())
