"""RecordStore's narrow queries: a listing's summaries and the latency timings select
neither logs nor errors (a record's logs can be 256 Ki characters)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import event, insert

from isolane.clock import to_iso
from isolane.observability.records import SUMMARY_FIELDS, InvocationRecord, RecordStore
from isolane.store.database import Database
from isolane.store.schema import namespaces

BIG_LOG = [{"level": "log", "message": "LOGTEXT" * 2000, "time": 0}]


def record(script: str, at: int, n: int, wall_ms: float) -> InvocationRecord:
    return InvocationRecord(
        namespace="ns", script=script, version="v1", trigger="fetch", outcome="ok" if n % 2 else "exception",
        cpu_ms=0.5, wall_ms=wall_ms, status=200, logs=BIG_LOG, error={"name": "E", "message": "ERRTEXT", "stack": None},
        started_at=at, id=f"{at:012x}{n:020x}",
    )


def test_summaries_and_timings_select_neither_logs_nor_errors(tmp_path: Path) -> None:
    async def scenario() -> None:
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}")
        await db.migrate()
        async with db.transaction() as conn:  # records are stored for a namespace that exists
            await conn.execute(insert(namespaces).values(name="ns", created_at=0))
        store = RecordStore(db)
        written = [record("a", 1_000_000 + i, i, float(i)) for i in range(10)] + [record("b", 1_000_000, 99, 1.0)]
        await store._write(written)
        statements: list[str] = []
        event.listen(db.engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

        summaries = await store.summaries("ns", "a", limit=3)
        assert [item["id"] for item in summaries] == [r.id for r in reversed(written[7:10])]
        assert set(summaries[0]) == set(SUMMARY_FIELDS)
        newest = written[9]
        assert summaries[0] == {
            "id": newest.id, "namespace": "ns", "script": "a", "version": "v1", "trigger": "fetch",
            "started_at": to_iso(newest.started_at), "outcome": newest.outcome, "status": 200, "cpu_ms": 0.5, "wall_ms": 9.0,
        }

        assert await store.timings("ns", "a", limit=4, since=1_000_002, until=1_000_008) == [
            (1_000_000 + i, float(i)) for i in (7, 6, 5, 4)
        ]
        assert await store.timings("ns", "nothing", limit=4) == []

        selects = [sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]
        assert len(selects) == 3
        for sql in selects:
            assert "logs" not in sql and "error" not in sql, sql
        # The API's listing is unchanged: full records.
        items, _ = await store.list("ns", "a", limit=1)
        assert items[0]["logs"] == BIG_LOG and items[0]["error"]["message"] == "ERRTEXT"
        await db.close()

    asyncio.run(scenario())
