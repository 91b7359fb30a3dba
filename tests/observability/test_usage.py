"""The fold of invocation records into hourly usage: one upsert per (namespace, script,
hour), adding to the counters, in the records' own transaction."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite

from isolane.observability.records import InvocationRecord, RecordStore
from isolane.observability.usage import HOUR_MS, UsageQuery, aggregate, read_usage, upsert_statement
from isolane.store.database import Database
from isolane.store.schema import invocations, namespaces, usage_hourly

HOUR = 1_795_802_400_000  # a whole hour: 2026-11-27T18:00:00Z


def record(script: str, outcome: str = "ok", at: int = HOUR + 1, **fields) -> InvocationRecord:
    values = {"cpu_ms": 1.5, "wall_ms": 2.25, "subrequests": 0} | fields
    return InvocationRecord(namespace="ns", script=script, version="v", trigger="fetch", outcome=outcome, started_at=at, **values)


def test_a_batch_is_aggregated_per_script_and_hour_in_key_order() -> None:
    rows = aggregate(
        [
            record("b"),
            record("a", "exception", subrequests=2),
            record("a", "exceededCpu", at=HOUR + HOUR_MS),  # the next hour
            record("a", at=HOUR + HOUR_MS - 1),  # the hour's last millisecond
            record("a", "canceled"),
        ]
    )
    assert [(row["script"], row["hour"]) for row in rows] == [("a", HOUR), ("a", HOUR + HOUR_MS), ("b", HOUR)]
    first = rows[0]
    assert (first["invocations"], first["exception"], first["canceled"], first["exceeded_cpu"]) == (3, 1, 1, 0)
    assert (first["cpu_ms"], first["wall_ms"], first["subrequests"]) == (4.5, 6.75, 2)
    assert rows[1]["exceeded_cpu"] == 1 and rows[1]["invocations"] == 1


def test_the_upsert_adds_on_both_dialects() -> None:
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        sql = " ".join(str(upsert_statement(dialect.name).compile(dialect=dialect)).split())
        assert "ON CONFLICT (namespace, script, hour) DO UPDATE SET" in sql, sql
        assert "invocations = (usage_hourly.invocations + excluded.invocations)" in sql, sql
        assert "cpu_ms = (usage_hourly.cpu_ms + excluded.cpu_ms)" in sql, sql


def test_batches_add_up_and_a_failed_batch_counts_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'usage.db'}")
        await db.migrate()
        async with db.transaction() as conn:  # records are stored for a namespace that exists
            await conn.execute(insert(namespaces).values(name="ns", created_at=0))
        store = RecordStore(db)
        try:
            await store._write([record("a"), record("a", "exception")])
            repeated = record("a")
            await store._write([repeated, record("b")])
            await store._write([repeated, record("a")])  # the id is taken: the batch fails whole
            async with db.connect() as conn:
                assert len((await conn.execute(select(invocations.c.id))).all()) == 4
                rows = (await conn.execute(select(usage_hourly).order_by(usage_hourly.c.script))).all()
            assert [(row.script, row.invocations, row.exception) for row in rows] == [("a", 3, 1), ("b", 1, 0)]
            assert rows[0].cpu_ms == 4.5
            body = await read_usage(db, UsageQuery("ns", HOUR - HOUR_MS, HOUR + HOUR_MS))
            assert body["totals"]["invocations"] == 4 and body["totals"]["errors"]["exception"] == 1
            assert [entry["script"] for entry in body["scripts"]] == ["a", "b"]
            assert body["hours"] == [{"hour": "2026-11-27T18:00:00.000Z", **body["totals"]}]
        finally:
            await db.close()

    asyncio.run(scenario())


def test_stopping_waits_for_a_write_in_progress(tmp_path: Path) -> None:
    """A stop that cut a committed write short would write its batch again: refused as
    duplicates, together with whatever was queued behind it."""
    committed = asyncio.Event()
    release = asyncio.Event()

    class SlowStore(RecordStore):
        async def _write(self, batch: list[InvocationRecord]) -> None:
            await super()._write(batch)
            if not release.is_set():
                committed.set()
                await release.wait()  # committed, not yet returned

    async def scenario() -> None:
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'stop.db'}")
        await db.migrate()
        async with db.transaction() as conn:  # records are stored for a namespace that exists
            await conn.execute(insert(namespaces).values(name="ns", created_at=0))
        store = SlowStore(db)
        store.start()
        for _ in range(5):
            store.submit(record("a"))
        await asyncio.wait_for(committed.wait(), 5)
        for _ in range(3):
            store.submit(record("a"))
        stopping = asyncio.ensure_future(store.stop())
        await asyncio.sleep(0.1)
        assert not stopping.done()  # waiting for the write in progress
        release.set()
        await stopping
        try:
            async with db.connect() as conn:
                assert (await conn.execute(select(usage_hourly.c.invocations))).scalar_one() == 8
                assert len((await conn.execute(select(invocations.c.id))).all()) == 8
        finally:
            await db.close()

    asyncio.run(scenario())
