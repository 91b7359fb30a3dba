"""Deleting a namespace: everything it owns goes, and a namespace created later under the
same name starts with nothing of the old one.

`remove`, one transaction: the namespace's row (and with it, by foreign keys, its scripts
with their versions, deployments, secrets, tags and schedules, and its KV namespaces with
their values), the tokens scoped to it, its rate bucket, and a row in
`namespace_deletions`. From that commit on the namespace does not exist: its tokens are
refused, its scripts answer 404, its cron ticks do not run.

`purge`, then: the namespace's history, kept in rows keyed by its name and as large as its
traffic made it (invocation records, hourly usage, cron leases), is deleted in batches, so
deleting a big tenant never holds SQLite's only writer for long.

The `namespace_deletions` row keeps the name from being created again (`settle`) until the
purge is complete (a crash half-way leaves the row: the next creation of the name, or the
background sweep, finishes the purge first) and SETTLE_MS have passed since the deletion,
by when every server's caches that know the namespace by its name (tokens 2 s, deployments
and limits 1 s) have expired.

Records of the namespace that are still on their way (invocations in flight during the
deletion, on any server) are not stored: the record writer drops a record whose namespace
no longer exists or was created after the record started (observability/records.py).
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import and_, delete, exists, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from isolane.clock import now_ms
from isolane.platform.quotas import lock
from isolane.platform.tokens import NAMESPACE_SCOPE_PREFIX
from isolane.store.batches import delete_in_batches
from isolane.store.database import Database
from isolane.store.schema import cron_leases, invocations, namespace_deletions, namespaces, rate_buckets, tokens, usage_hourly

log = logging.getLogger(__name__)

# Longer than any server caches what it knows of a namespace by name: tokens (2 s, the
# default `token_cache_seconds`), deployments and namespace limits (1 s).
SETTLE_MS = 3_000


async def remove(conn: AsyncConnection, name: str) -> bool:
    """Delete the namespace and what it owns, inside the caller's transaction, and mark
    its history for `purge`; False when there is no such namespace."""
    if await lock(conn, name) is None:
        return False
    await conn.execute(delete(namespaces).where(namespaces.c.name == name))  # cascades
    await conn.execute(delete(tokens).where(tokens.c.scope == NAMESPACE_SCOPE_PREFIX + name))
    await conn.execute(delete(rate_buckets).where(rate_buckets.c.namespace == name))
    await conn.execute(delete(namespace_deletions).where(namespace_deletions.c.name == name))
    await conn.execute(insert(namespace_deletions).values(name=name, deleted_at=now_ms()))
    return True


async def purge(db: Database, name: str) -> int:
    """Delete the history of the deleted namespace `name`, in batches; the rows deleted.
    Each batch deletes only while the name's deletion is pending, so a purge that lags
    behind another server's never touches a namespace created again meanwhile."""
    pending = exists().where(namespace_deletions.c.name == name)
    deleted = 0
    for table, column in ((invocations, invocations.c.namespace), (usage_hourly, usage_hourly.c.namespace), (cron_leases, cron_leases.c.namespace)):
        deleted += await delete_in_batches(db, table, and_(column == name, pending))
    return deleted


async def settle(db: Database, name: str) -> None:
    """Make the name ready to be created again: finish the purge of a namespace deleted
    under it (if any) and wait out the rest of SETTLE_MS. The caller still checks, in its
    creating transaction, that no deletion is pending (`pending_in`)."""
    async with db.connect() as conn:
        deleted_at = (await conn.execute(select(namespace_deletions.c.deleted_at).where(namespace_deletions.c.name == name))).scalar()
    if deleted_at is None:
        return
    await purge(db, name)
    wait_ms = deleted_at + SETTLE_MS - now_ms()
    if wait_ms > 0:
        await asyncio.sleep(min(wait_ms, SETTLE_MS) / 1000)
    async with db.transaction() as conn:
        await conn.execute(
            delete(namespace_deletions).where(namespace_deletions.c.name == name, namespace_deletions.c.deleted_at == deleted_at)
        )


async def pending_in(conn: AsyncConnection, name: str) -> bool:
    """Whether a deletion of `name` is still pending (inside the caller's transaction)."""
    found = await conn.execute(select(namespace_deletions.c.name).where(namespace_deletions.c.name == name))
    return found.first() is not None


async def finish_deletions(db: Database) -> int:
    """Finish every pending deletion whose settling time has passed (the background sweep:
    deletions a crash interrupted, and names nobody created again); the rows purged."""
    async with db.connect() as conn:
        rows = (await conn.execute(select(namespace_deletions).where(namespace_deletions.c.deleted_at < now_ms() - SETTLE_MS))).all()
    purged = 0
    for row in rows:
        purged += await purge(db, row.name)
        async with db.transaction() as conn:
            await conn.execute(
                delete(namespace_deletions).where(namespace_deletions.c.name == row.name, namespace_deletions.c.deleted_at == row.deleted_at)
            )
    if purged:
        log.info("finished interrupted namespace deletions: %d rows of their history deleted", purged)
    return purged
