"""Deleting many rows without holding the database: a bounded batch per statement and
transaction, so SQLite's single writer (the record writer, rate buckets, uploads) gets its
turn between batches instead of waiting for one long delete."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import Table, delete, select, tuple_

from isolane.store.database import Database

DELETE_BATCH = 500


async def delete_in_batches(db: Database, table: Table, condition: Any, *, batch: int = DELETE_BATCH) -> int:
    """Delete the rows of `table` matching `condition`, `batch` at a time; the number
    deleted. `condition` is evaluated again in each batch's statement (it may say when to
    stop, e.g. "while the deletion is still pending")."""
    keys = list(table.primary_key.columns)
    chosen = select(*keys).where(condition).limit(batch)
    if len(keys) == 1:
        statement = delete(table).where(keys[0].in_(chosen.scalar_subquery()))
    else:
        statement = delete(table).where(tuple_(*keys).in_(chosen))
    deleted = 0
    while True:
        async with db.transaction() as conn:
            count = (await conn.execute(statement)).rowcount or 0
        deleted += count
        if count < batch:
            return deleted
        await asyncio.sleep(0)  # let requests and the record writer in between batches
