"""What every operation on a Workers script checks first: that the script exists (404
`script_not_found` otherwise), and which rows of the scripts table are Workers scripts
(seed uploads share the table)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from isolane.errors import NotFound
from isolane.platform.uploads import WorkerFormat
from isolane.store.schema import scripts

WORKER_KINDS = (WorkerFormat.MODULE.value, WorkerFormat.SERVICE_WORKER.value)


def script_not_found(namespace: str, name: str) -> NotFound:
    return NotFound(f"script {name[:80]!r} not found in namespace {namespace[:80]!r}", code="script_not_found")


def version_not_found(name: str, version_id: str) -> NotFound:
    return NotFound(f"version {version_id[:80]!r} not found for script {name[:80]!r}", code="version_not_found")


async def require_script(conn: AsyncConnection, namespace: str, name: str) -> None:
    """404 unless `namespace/name` is a Workers script."""
    found = await conn.execute(
        select(scripts.c.name).where(scripts.c.namespace == namespace, scripts.c.name == name, scripts.c.kind.in_(WORKER_KINDS))
    )
    if found.first() is None:
        raise script_not_found(namespace, name)
