"""Workers scripts: upload, read, list, delete, tags, versions, deployments, and the new
versions that changes of secrets make; the facade the API routes use.

Its parts live in their own modules: publishing an upload (link, probe, store, deploy) in
platform/publish.py, the deployed version an invocation runs in platform/deployed.py.
Which versions are deployed, and in what shares, lives in the store (platform/deployments.py).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from isolane.clock import now_ms, to_iso
from isolane.errors import BadRequest, Conflict
from isolane.linker import SourceMap
from isolane.linker.pool import LinkPool
from isolane.platform import deployments as rollouts
from isolane.platform import tags as script_tags
from isolane.platform.deployed import Deployment, DeployedVersions, Rollout
from isolane.platform.kv import KVService
from isolane.platform.namespaces import NamespaceService
from isolane.platform.publish import Publisher
from isolane.platform.script_rows import WORKER_KINDS, require_script, script_not_found, version_not_found
from isolane.platform.secrets import SecretChange, SecretSet, read_secret_set, versioned
from isolane.platform.uploads import Upload
from isolane.sandbox.limits import Limits
from isolane.sandbox.supervisor import ScriptCode, Supervisor
from isolane.store.blobs import BlobStore
from isolane.store.database import Database
from isolane.store.schema import deployments as deployments_table
from isolane.store.schema import scripts, versions
from isolane.store.sealing import Sealer

# Deployment and Rollout are re-exported: the gateway, dispatch and schedules take them from here.
__all__ = ["Deployment", "Rollout", "ScriptService"]

DEFAULT_PAGE = 100
MAX_PAGE = 1000
BULK_DELETE_CHUNK = 500  # names per statement (bound parameters are limited)
_MULTIPART_TYPES = {
    "esm": "application/javascript+module",
    "typescript": "application/typescript",
    "text": "text/plain",
    "data": "application/octet-stream",
    "json": "application/json",
}


def _page_cursor(created_at: int, item_id: str) -> str:
    return f"{created_at}.{item_id}"


def _parse_cursor(cursor: str) -> tuple[int, str]:
    created_at, _, item_id = cursor.partition(".")
    if not created_at.isdigit() or not item_id:
        raise BadRequest("invalid cursor: pass the cursor of the previous page as it came", code="invalid_cursor")
    return int(created_at), item_id


def _described(meta: dict[str, Any]) -> dict[str, Any]:
    """What a version's metadata says about it (never secrets' values or ciphertexts)."""
    return {
        "main_module": meta.get("main_module"),
        "modules": [{"name": m["name"], "type": m["type"], "size": m["size"]} for m in meta.get("modules", [])],
        "bindings": [{"name": b["name"], "type": b["type"]} for b in meta.get("bindings", [])]
        + [{"name": s["name"], "type": s["type"]} for s in meta.get("secrets", [])],
        "limits": meta.get("limits", {}),
        "compatibility_date": meta.get("compatibility_date"),
        "compatibility_flags": meta.get("compatibility_flags", []),
        "startup_time_ms": meta.get("startup_time_ms"),
    }


class ScriptService:
    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        supervisor: Supervisor,
        namespaces: NamespaceService,
        *,
        limits: Limits,
        max_script_bytes: int,
        sealer: Sealer,
        max_subrequests: int = 1000,
        linker: LinkPool | None = None,
    ) -> None:
        self._db = db
        self._blobs = blobs
        self._linker = linker or LinkPool()
        self._deployed = DeployedVersions(db, blobs, namespaces, limits=limits, sealer=sealer, max_subrequests=max_subrequests)
        self._publisher = Publisher(
            db,
            blobs,
            supervisor,
            namespaces,
            self._deployed,
            self._linker,
            limits=limits,
            max_script_bytes=max_script_bytes,
            sealer=sealer,
            max_subrequests=max_subrequests,
        )
        # Told when an upload replaced a script's cron triggers (the scheduler looks again
        # at once, as after `PUT .../schedules`, instead of at the next minute).
        self.schedules_changed: Callable[[], None] = lambda: None

    async def close(self) -> None:
        """Stop the link workers."""
        await self._linker.close()

    # ---- upload

    async def upload(self, namespace: str, name: str, upload: Upload, *, deploy: bool = True) -> tuple[dict[str, Any], bool]:
        """Link, probe, store and (unless `deploy` is false) deploy `upload` at 100%.
        Deploying: (script info, version created). Not deploying, which needs the script to
        exist: (the version, version created)."""
        published = await self._publisher.upload(namespace, name, upload, deploy=deploy)
        if deploy and upload.metadata.crons is not None:
            self.schedules_changed()
        if published.info is None:
            return await self.version(namespace, name, published.version_id), published.created
        return published.info, published.created

    # ---- reading

    def _query(self):  # noqa: ANN202 - a SQLAlchemy select
        return select(
            scripts.c.namespace,
            scripts.c.name,
            scripts.c.kind,
            scripts.c.current_version,
            scripts.c.created_at,
            scripts.c.updated_at,
            versions.c.metadata,
            versions.c.size,
        ).join(versions, versions.c.id == scripts.c.current_version)

    @staticmethod
    def _summary(row: Any, tags: list[str]) -> dict[str, Any]:
        meta = orjson.loads(row.metadata)
        return {
            "namespace": row.namespace,
            "name": row.name,
            "version_id": row.current_version,
            "format": row.kind,
            "handlers": meta.get("handlers", []),
            "tags": tags,
            "size": row.size,
            "created_at": to_iso(row.created_at),
            "modified_at": to_iso(row.updated_at),
        }

    async def _row(self, namespace: str, name: str) -> Any:
        async with self._db.connect() as conn:
            row = (
                await conn.execute(
                    self._query().where(scripts.c.namespace == namespace, scripts.c.name == name, scripts.c.kind.in_(WORKER_KINDS))
                )
            ).first()
        if row is None:
            raise script_not_found(namespace, name)
        return row

    async def list(
        self, namespace: str, limit: int | None = None, cursor: str | None = None, tags: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of the namespace's scripts by name; `tags` filters (see platform/tags.py)."""
        page = min(max(limit or DEFAULT_PAGE, 1), MAX_PAGE)
        query = self._query().where(scripts.c.namespace == namespace, scripts.c.kind.in_(WORKER_KINDS))
        if tags is not None:
            query = query.where(*script_tags.parse_filter(tags).conditions())
        if cursor:
            query = query.where(scripts.c.name > cursor)
        async with self._db.connect() as conn:
            rows = list(await conn.execute(query.order_by(scripts.c.name).limit(page + 1)))
            tagged = await script_tags.tags_of(conn, namespace, (row.name for row in rows[:page]))
        items = [self._summary(row, tagged[row.name]) for row in rows[:page]]
        return items, items[-1]["name"] if len(rows) > page else None

    async def get(self, namespace: str, name: str) -> dict[str, Any]:
        row = await self._row(namespace, name)
        async with self._db.connect() as conn:
            tagged = await script_tags.tags_of(conn, namespace, [name])
        return {**self._summary(row, tagged[name]), **_described(orjson.loads(row.metadata))}

    async def content(self, namespace: str, name: str) -> tuple[bytes, str]:
        """The current version's source as uploaded: the body of a raw upload, or the
        modules as multipart."""
        return await self._content(orjson.loads((await self._row(namespace, name)).metadata))

    async def _content(self, meta: dict[str, Any]) -> tuple[bytes, str]:
        modules = meta.get("modules", [])
        if meta.get("layout") == "raw" and len(modules) == 1:
            return await self._blobs.get(modules[0]["blob"]), meta.get("content_type") or "application/javascript"
        boundary = f"isolane-{secrets.token_hex(12)}"
        chunks: list[bytes] = []
        described = {"main_module": meta["main_module"]} if meta.get("format") == "module" else {"body_part": meta["main_module"]}
        parts = [("metadata", "application/json", orjson.dumps(described))]
        for module in modules:
            parts.append((module["name"], _MULTIPART_TYPES.get(module["type"], "application/octet-stream"), await self._blobs.get(module["blob"])))
        for part_name, content_type, content in parts:
            filename = f'; filename="{part_name}"' if part_name != "metadata" else ""
            chunks.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{part_name}"{filename}\r\nContent-Type: {content_type}\r\n\r\n'.encode()
                + content
                + b"\r\n"
            )
        chunks.append(f"--{boundary}--\r\n".encode())
        return b"".join(chunks), f"multipart/form-data; boundary={boundary}"

    async def require(self, conn: AsyncConnection, namespace: str, name: str) -> None:
        """404 unless `namespace/name` is a Workers script."""
        await require_script(conn, namespace, name)

    async def change_secrets(self, namespace: str, name: str, change: SecretChange) -> tuple[Any, str]:
        """Apply `change(conn, current secrets, bindings)` to the script's secrets and deploy
        a version that has the result at 100%, in one transaction; (change's result, version
        id). The new version is the current one (the largest share of the deployment) with
        other secrets: same build, same handlers."""
        now = now_ms()
        async with self._db.transaction() as conn:
            locked = await conn.execute(
                update(scripts)
                .where(scripts.c.namespace == namespace, scripts.c.name == name, scripts.c.kind.in_(WORKER_KINDS))
                .values(updated_at=now)
            )
            if locked.rowcount == 0:
                raise script_not_found(namespace, name)
            current = (
                await conn.execute(
                    select(scripts.c.current_version, versions.c.kind, versions.c.blob, versions.c.size, versions.c.metadata)
                    .join(versions, versions.c.id == scripts.c.current_version)
                    .where(scripts.c.namespace == namespace, scripts.c.name == name)
                )
            ).one()
            meta = orjson.loads(current.metadata)
            result = await change(conn, await read_secret_set(conn, namespace, name), meta.get("bindings", []))
            after = await read_secret_set(conn, namespace, name)
            build = meta.get("build", current.current_version)
            version_id = versioned(build, after.digest)
            exists = (await conn.execute(select(versions.c.id).where(versions.c.id == version_id))).first()
            if exists is None:
                await conn.execute(
                    insert(versions).values(
                        id=version_id,
                        namespace=namespace,
                        script=name,
                        kind=current.kind,
                        blob=current.blob,
                        size=current.size,
                        metadata=orjson.dumps({**meta, **after.metadata(build)}).decode(),
                        created_at=now,
                    )
                )
            await rollouts.deploy_alone(conn, namespace, name, version_id, current.kind, now)
        self._deployed.forget(namespace, name)
        return result, version_id

    def forget_namespace(self, namespace: str) -> None:
        """Drop this server's cached deployments of `namespace` (its limits changed)."""
        self._deployed.forget_namespace(namespace)

    async def delete(self, namespace: str, name: str) -> None:
        async with self._db.transaction() as conn:
            result = await conn.execute(
                delete(scripts).where(and_(scripts.c.namespace == namespace, scripts.c.name == name, scripts.c.kind.in_(WORKER_KINDS)))
            )
        self._deployed.forget(namespace, name)
        if result.rowcount == 0:
            raise script_not_found(namespace, name)

    async def delete_tagged(self, namespace: str, tags: str | None) -> list[str]:
        """Delete every script of the namespace that the tag filter matches; their names.
        The filter must require at least one tag: this never deletes everything by accident."""
        if not tags:
            raise BadRequest("deleting scripts in bulk needs ?tags= (e.g. ?tags=customer-42)", code="tags_required")
        found = script_tags.parse_filter(tags)
        if not found.required:
            raise BadRequest("the tag filter must require at least one tag (tag or tag:yes)", code="tags_required")
        async with self._db.transaction() as conn:
            matching = (
                select(scripts.c.name)
                .where(scripts.c.namespace == namespace, scripts.c.kind.in_(WORKER_KINDS), *found.conditions())
                .order_by(scripts.c.name)
            )
            names = [row.name for row in await conn.execute(matching)]
            for start in range(0, len(names), BULK_DELETE_CHUNK):
                chunk = names[start : start + BULK_DELETE_CHUNK]
                await conn.execute(delete(scripts).where(scripts.c.namespace == namespace, scripts.c.name.in_(chunk)))
        for name in names:
            self._deployed.forget(namespace, name)
        return names

    # ---- tags

    async def tags(self, namespace: str, name: str) -> list[str]:
        async with self._db.connect() as conn:
            await self.require(conn, namespace, name)
            return (await script_tags.tags_of(conn, namespace, [name]))[name]

    async def set_tags(self, namespace: str, name: str, tags: list[str]) -> list[str]:
        """Replace the script's tags (validated by the caller: platform/tags.py)."""
        async with self._db.transaction() as conn:
            await self.require(conn, namespace, name)
            await script_tags.replace(conn, namespace, name, tags)
        return sorted(set(tags))

    # ---- versions

    async def list_versions(
        self, namespace: str, name: str, limit: int | None = None, cursor: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of the script's versions, newest first."""
        page = min(max(limit or DEFAULT_PAGE, 1), MAX_PAGE)
        query = select(versions).where(versions.c.namespace == namespace, versions.c.script == name)
        if cursor:
            created_at, after = _parse_cursor(cursor)
            query = query.where(
                (versions.c.created_at < created_at) | ((versions.c.created_at == created_at) & (versions.c.id < after))
            )
        async with self._db.connect() as conn:
            await self.require(conn, namespace, name)
            rows = list(await conn.execute(query.order_by(versions.c.created_at.desc(), versions.c.id.desc()).limit(page + 1)))
            _, shares = await rollouts.current_versions(conn, namespace, name)
        items = [self._version_view(row, shares) for row in rows[:page]]
        return items, _page_cursor(rows[page - 1].created_at, rows[page - 1].id) if len(rows) > page else None

    async def version(self, namespace: str, name: str, version_id: str) -> dict[str, Any]:
        async with self._db.connect() as conn:
            row = await self._version_row(conn, namespace, name, version_id)
            _, shares = await rollouts.current_versions(conn, namespace, name)
        return self._version_view(row, shares)

    async def version_content(self, namespace: str, name: str, version_id: str) -> tuple[bytes, str]:
        """A version's source as uploaded."""
        async with self._db.connect() as conn:
            row = await self._version_row(conn, namespace, name, version_id)
        return await self._content(orjson.loads(row.metadata))

    async def version_modules(self, namespace: str, name: str, version_id: str) -> list[tuple[str, str, bytes]]:
        """A version's modules as (name, type, source), in upload order."""
        async with self._db.connect() as conn:
            row = await self._version_row(conn, namespace, name, version_id)
        modules = orjson.loads(row.metadata).get("modules", [])
        return [(module["name"], module["type"], await self._blobs.get(module["blob"])) for module in modules]

    async def _version_row(self, conn: AsyncConnection, namespace: str, name: str, version_id: str) -> Any:
        await self.require(conn, namespace, name)
        row = (
            await conn.execute(
                select(versions).where(versions.c.id == version_id, versions.c.namespace == namespace, versions.c.script == name)
            )
        ).first()
        if row is None:
            raise version_not_found(name, version_id)
        return row

    @staticmethod
    def _version_view(row: Any, shares: list[dict[str, Any]]) -> dict[str, Any]:
        meta = orjson.loads(row.metadata)
        return {
            "id": row.id,
            "created_at": to_iso(row.created_at),
            "format": row.kind,
            "size": row.size,
            "handlers": meta.get("handlers", []),
            "tags": meta.get("tags", []),
            **_described(meta),
            # Its share of the traffic in the current deployment (None: not deployed).
            "percentage": next((share["percentage"] for share in shares if share["version_id"] == row.id), None),
        }

    # ---- deployments

    async def list_deployments(
        self, namespace: str, name: str, limit: int | None = None, cursor: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of the script's deployments, newest first, the current one marked."""
        page = min(max(limit or DEFAULT_PAGE, 1), MAX_PAGE)
        query = select(deployments_table).where(deployments_table.c.namespace == namespace, deployments_table.c.script == name)
        if cursor:
            query = query.where(deployments_table.c.id < cursor)
        async with self._db.connect() as conn:
            await self.require(conn, namespace, name)
            rows = list(await conn.execute(query.order_by(deployments_table.c.id.desc()).limit(page + 1)))
            current, _ = await rollouts.current_versions(conn, namespace, name)
        items = [rollouts.view(row, current) for row in rows[:page]]
        return items, items[-1]["id"] if len(rows) > page else None

    async def deploy(self, namespace: str, name: str, body: Any, *, force: bool = False) -> dict[str, Any]:
        """Deploy versions of the script in the shares that `body` (its JSON value) gives (a rollback, a
        split). A version whose secrets are not the script's current ones would bring old
        secrets back: that takes `force` (as in Cloudflare)."""
        requested = rollouts.parse_deployment(body)
        wanted = [version["version_id"] for version in requested]
        async with self._db.connect() as conn:
            await self.require(conn, namespace, name)
            rows = {
                row.id: row
                for row in await conn.execute(
                    select(versions.c.id, versions.c.kind, versions.c.metadata).where(
                        versions.c.id.in_(wanted), versions.c.namespace == namespace, versions.c.script == name
                    )
                )
            }
        for version_id in wanted:
            if version_id not in rows:
                raise version_not_found(name, version_id)
        metas = {version_id: orjson.loads(rows[version_id].metadata) for version_id in wanted}
        kv = KVService(self._db)
        for meta in metas.values():  # a bound KV namespace may have been deleted since
            await kv.check_bindings(namespace, meta.get("bindings", []))
        now = now_ms()
        async with self._db.transaction() as conn:
            locked = await conn.execute(
                update(scripts)
                .where(scripts.c.namespace == namespace, scripts.c.name == name, scripts.c.kind.in_(WORKER_KINDS))
                .values(updated_at=now)
            )
            if locked.rowcount == 0:
                raise script_not_found(namespace, name)
            current = await read_secret_set(conn, namespace, name)
            changed: set[str] = set()
            for version_id, meta in metas.items():
                own = SecretSet.of_version(meta)
                if own is None:
                    if current.digest != meta.get("secrets_digest"):
                        raise Conflict(
                            f"version {version_id!r} was stored without its secrets, and the script's secrets have changed since",
                            code="version_secrets_unavailable",
                            version_id=version_id,
                        )
                    continue
                changed.update(own.changed(current))
            if changed and not force:
                raise Conflict(
                    "the script's secrets have changed since these versions were made; deploying them brings their own "
                    "secrets back: add ?force=true to deploy anyway, or deploy a version with the current secrets",
                    code="secrets_changed",
                    secrets=sorted(changed),
                )
            kind = rows[rollouts.main_version(requested)].kind
            deployment_id = await rollouts.record(conn, namespace, name, requested, kind, now)
            row = (await conn.execute(select(deployments_table).where(deployments_table.c.id == deployment_id))).one()
        self._deployed.forget(namespace, name)
        return rollouts.view(row, deployment_id)

    # ---- invocation

    async def deployed(self, namespace: str, name: str, rollout_key: str | None = None) -> Deployment:
        """The version of `namespace/name` that serves one request, or 404: by the rollout
        key when given (the same key, the same version), else at random by the shares."""
        return await self._deployed.deployed(namespace, name, rollout_key)

    async def rollout(self, namespace: str, name: str) -> Rollout:
        """The script's current deployment (cached for a second), or 404."""
        return await self._deployed.rollout(namespace, name)

    async def code(self, deployment: Deployment) -> ScriptCode:
        return await self._deployed.code(deployment)

    async def source_map(self, deployment: Deployment) -> SourceMap | None:
        return await self._deployed.source_map(deployment)
