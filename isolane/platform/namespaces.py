"""Namespaces: one per tenant of the platform. `default` always exists (seed uploads)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from isolane.clock import now_ms, to_iso
from isolane.errors import Conflict, NotFound
from isolane.platform.names import validate_name
from isolane.store.database import Database
from isolane.store.schema import namespaces, scripts

DEFAULT_NAMESPACE = "default"


def namespace_view(row: Any, script_count: int) -> dict[str, Any]:
    return {"name": row.name, "created_at": to_iso(row.created_at), "script_count": script_count}


def not_found(name: str) -> NotFound:
    return NotFound(f"namespace {name!r} not found", code="namespace_not_found")


class NamespaceService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def ensure(self, name: str) -> tuple[dict[str, Any], bool]:
        """Create the namespace unless it exists; returns (namespace, created)."""
        validate_name(name, "namespace")
        created = False
        try:
            async with self._db.transaction() as conn:
                await conn.execute(insert(namespaces).values(name=name, created_at=now_ms(), settings="{}"))
            created = True
        except IntegrityError:
            pass
        return await self.get(name), created

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
        if name == DEFAULT_NAMESPACE:
            raise Conflict("the default namespace cannot be deleted", code="namespace_protected")
        async with self._db.transaction() as conn:
            result = await conn.execute(delete(namespaces).where(namespaces.c.name == name))
        if result.rowcount == 0:
            raise not_found(name)
