"""Namespaces: one per tenant of the platform. `default` always exists (seed uploads).

A namespace's limits and quotas (platform/quotas.py) are set by admins; each server caches
them for a second (`policy`), so other servers follow a change within that time.

Deleting a namespace deletes everything it owns, its history too, before its name can be
created again (platform/deletion.py).
"""

from __future__ import annotations

import dataclasses

import time
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from isolane.clock import now_ms, to_iso
from isolane.errors import Conflict, NotFound
from isolane.platform import deletion
from isolane.platform.names import validate_name
from isolane.platform.quotas import Policy, changed_settings, lock
from isolane.store.database import Database
from isolane.store.schema import namespaces, rate_buckets, scripts
from isolane.singleflight import SingleFlight

DEFAULT_NAMESPACE = "default"
POLICY_CACHE_SECONDS = 1.0
POLICIES_CACHED = 100_000
CREATE_ATTEMPTS = 3  # a deletion of the same name can come between settling and creating


class _DeletionPending(Exception):
    """Raised inside a creating transaction to roll it back: a deletion of the name is pending."""


def namespace_view(row: Any, script_count: int) -> dict[str, Any]:
    return {
        "name": row.name,
        "created_at": to_iso(row.created_at),
        "script_count": script_count,
        **Policy.from_settings(row.settings).to_json(),
    }


def not_found(name: str) -> NotFound:
    return NotFound(f"namespace {name!r} not found", code="namespace_not_found")


class NamespaceService:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._policies: dict[str, tuple[float, Policy | None]] = {}
        self._policy_loads: SingleFlight[Policy | None] = SingleFlight()

    async def ensure(self, name: str, changes: dict[str, dict[str, Any]] | None = None) -> tuple[dict[str, Any], bool]:
        """Create the namespace unless it exists, and apply `changes` to its settings
        (platform/quotas.py `parse_changes`); returns (namespace, created)."""
        validate_name(name, "namespace")
        created = False
        for attempt in range(CREATE_ATTEMPTS):
            # A namespace deleted under this name is purged (and other servers' caches of it
            # expired) before the name is taken again: the new one sees nothing of it.
            await deletion.settle(self._db, name)
            try:
                async with self._db.transaction() as conn:
                    await conn.execute(insert(namespaces).values(name=name, created_at=now_ms(), settings=changed_settings(None, changes or {})))
                    if await deletion.pending_in(conn, name):
                        raise _DeletionPending
                created = True
                break
            except _DeletionPending:
                if attempt + 1 == CREATE_ATTEMPTS:
                    raise Conflict(f"namespace {name!r} is being deleted: retry in a few seconds", code="namespace_being_deleted") from None
            except IntegrityError:
                if changes:
                    await self._change(name, changes)
                break
        self._policies.pop(name, None)
        return await self.get(name), created

    async def _change(self, name: str, changes: dict[str, dict[str, Any]]) -> None:
        async with self._db.transaction() as conn:
            before = await lock(conn, name)
            if before is None:
                raise not_found(name)  # deleted meanwhile
            current = (await conn.execute(select(namespaces.c.settings).where(namespaces.c.name == name))).scalar_one()
            await conn.execute(update(namespaces).where(namespaces.c.name == name).values(settings=changed_settings(current, changes)))
            if "quotas" in changes and "requests_per_second" not in changes["quotas"]:
                await conn.execute(delete(rate_buckets).where(rate_buckets.c.namespace == name))

    async def policy(self, name: str, *, fresh: bool = False) -> Policy | None:
        """The namespace's limits and quotas (cached for a second unless `fresh`), or None
        when there is no such namespace."""
        if not fresh:
            cached = self._policies.get(name)
            if cached is not None and cached[0] > time.monotonic():
                return cached[1]
            return await self._policy_loads.run(name, lambda: self.policy(name, fresh=True))
        async with self._db.connect() as conn:
            row = (await conn.execute(select(namespaces.c.settings, namespaces.c.created_at).where(namespaces.c.name == name))).first()
        policy = None if row is None else dataclasses.replace(Policy.from_settings(row.settings), created_at=row.created_at)
        if len(self._policies) >= POLICIES_CACHED:
            self._policies.clear()
        self._policies[name] = (time.monotonic() + POLICY_CACHE_SECONDS, policy)
        return policy

    async def get(self, name: str) -> dict[str, Any]:
        async with self._db.connect() as conn:
            row = (await conn.execute(select(namespaces).where(namespaces.c.name == name))).first()
            if row is None:
                raise not_found(name)
            count = (await conn.execute(select(func.count()).select_from(scripts).where(scripts.c.namespace == name))).scalar_one()
        return namespace_view(row, count)

    async def exists(self, name: str) -> bool:
        async with self._db.connect() as conn:
            return (await conn.execute(select(namespaces.c.name).where(namespaces.c.name == name))).first() is not None

    async def list(self, only: str | None = None) -> list[dict[str, Any]]:
        counts = select(scripts.c.namespace, func.count().label("n")).group_by(scripts.c.namespace).subquery()
        query = (
            select(namespaces, func.coalesce(counts.c.n, 0).label("script_count"))
            .outerjoin(counts, counts.c.namespace == namespaces.c.name)
            .order_by(namespaces.c.name)
        )
        if only is not None:
            query = query.where(namespaces.c.name == only)
        async with self._db.connect() as conn:
            return [namespace_view(row, row.script_count) for row in await conn.execute(query)]

    async def delete(self, name: str) -> None:
        """Delete the namespace and what it owns in one transaction (platform/deletion.py):
        from its commit on, the namespace, its scripts, KV, secrets, schedules and tokens
        are gone. Its history (records, usage, cron leases) is then deleted by `purge`."""
        if name == DEFAULT_NAMESPACE:
            raise Conflict("the default namespace cannot be deleted", code="namespace_protected")
        async with self._db.transaction() as conn:
            removed = await deletion.remove(conn, name)
        self._policies.pop(name, None)
        if not removed:
            raise not_found(name)

    async def purge(self, name: str) -> None:
        """Delete the history of the namespace `name` deleted, in batches."""
        await deletion.purge(self._db, name)

    async def finish_deletions(self) -> int:
        """Purge what interrupted deletions left (for the background sweep)."""
        return await deletion.finish_deletions(self._db)
