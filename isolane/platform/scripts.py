"""Workers scripts: upload (link, probe, store immutably, deploy), versions, deployments,
tags, read, list, delete, and the deployed version an invocation runs.

A version's id is derived from everything that makes it (code, modules, metadata, and the
script's secrets: see platform/secrets.py), so the same upload twice is the same version,
and caches keyed by version never go stale. A version keeps its secrets (as ciphertexts),
so any version can be deployed again as it was.
Which versions are deployed, and in what shares, lives in the store (platform/deployments.py);
each server caches that answer for a second, so other instances see a change within that
time (this one at once).
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from isolane.clock import now_ms, to_iso
from isolane.errors import BadRequest, Conflict, IsolaneError, NotFound, PayloadTooLarge
from isolane.linker import SourceMap, link
from isolane.platform import deployments as rollouts
from isolane.platform import tags as script_tags
from isolane.platform import triggers
from isolane.platform.kv import KVService
from isolane.platform.names import validate_name
from isolane.platform.namespaces import NamespaceService
from isolane.platform.quotas import NO_POLICY, Policy, check_script_quotas, lock
from isolane.platform.runner import script_file_name
from isolane.platform.secrets import SecretChange, SecretSet, binding_conflict, read_secret_set, versioned
from isolane.platform.stacks import map_error
from isolane.platform.uploads import Upload, WorkerFormat
from isolane.sandbox.limits import Limits
from isolane.sandbox.outcomes import Outcome
from isolane.sandbox.supervisor import ScriptCode, ScriptRef, Supervisor
from isolane.singleflight import SingleFlight
from isolane.store.blobs import BlobStore, digest_of
from isolane.store.database import Database
from isolane.store.schema import deployments as deployments_table
from isolane.store.schema import scripts, versions
from isolane.store.sealing import Sealer

WORKER_KINDS = (WorkerFormat.MODULE.value, WorkerFormat.SERVICE_WORKER.value)
DEPLOYMENT_CACHE_SECONDS = 1.0
SOURCE_MAPS_CACHED = 256
DEFAULT_PAGE = 100
MAX_PAGE = 1000
BULK_DELETE_CHUNK = 500  # names per statement (bound parameters are limited)
SECRETS_RACE_ATTEMPTS = 3  # an upload that meets concurrent changes of secrets
_MULTIPART_TYPES = {
    "esm": "application/javascript+module",
    "typescript": "application/typescript",
    "text": "text/plain",
    "data": "application/octet-stream",
    "json": "application/json",
}


@dataclass(frozen=True, slots=True)
class Deployment:
    """The deployed version of a script: what an invocation needs, cacheable by version."""

    namespace: str
    script: str
    version: str
    kind: str
    handlers: tuple[str, ...]
    limits: Limits
    code_blob: str
    source_map_blob: str | None
    env: dict[str, Any] = field(repr=False)  # plain bindings and secrets' values
    bindings: tuple[dict[str, Any], ...] = ()  # capability bindings (KV, ...), as uploaded
    subrequests: int = 1000  # binding calls (fetch, KV, ...) per invocation
    variant: str = ""  # set when env/bindings differ from the version's own (ScriptRef.variant)

    @property
    def ref(self) -> ScriptRef:
        return ScriptRef(self.namespace, self.script, self.version, self.kind, self.variant)


@dataclass(frozen=True, slots=True)
class Rollout:
    """A script's current deployment: its versions and their shares of the traffic."""

    id: str | None
    shares: tuple[tuple[Deployment, float], ...]

    def pick(self, key: str | None = None) -> Deployment:
        """The version for one request: by `key` when given (sticky), else at random."""
        if len(self.shares) == 1:
            return self.shares[0][0]
        point = rollouts.rollout_point(self.id or "", key) if key else rollouts.random_point()
        return rollouts.choose(self.shares, point)


@dataclass(frozen=True, slots=True)
class Stored:
    """What storing an upload did."""

    created: bool  # a new script (deploying) or a new version (not deploying)
    created_at: int  # the version's
    deployment_id: str | None  # when deploying


class SecretsChanged(Exception):
    """The script's secrets changed between an upload's reading them and its deployment."""


def script_not_found(namespace: str, name: str) -> NotFound:
    return NotFound(f"script {name[:80]!r} not found in namespace {namespace[:80]!r}", code="script_not_found")


def version_not_found(name: str, version_id: str) -> NotFound:
    return NotFound(f"version {version_id[:80]!r} not found for script {name[:80]!r}", code="version_not_found")


def _page_cursor(created_at: int, item_id: str) -> str:
    return f"{created_at}.{item_id}"


def _parse_cursor(cursor: str) -> tuple[int, str]:
    created_at, _, item_id = cursor.partition(".")
    if not created_at.isdigit() or not item_id:
        raise BadRequest("invalid cursor: pass the cursor of the previous page as it came", code="invalid_cursor")
    return int(created_at), item_id


VALUE_BINDINGS = ("plain_text", "json")


def _env(bindings: list[dict[str, Any]]) -> dict[str, Any]:
    """Bindings that are plain values on `env`."""
    env: dict[str, Any] = {}
    for binding in bindings:
        if binding["type"] == "plain_text":
            env[binding["name"]] = binding["text"]
        elif binding["type"] == "json":
            env[binding["name"]] = binding["json"]
    return env


def _capabilities(bindings: list[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    """Bindings that are objects backed by the server (KV, ...)."""
    return tuple(binding for binding in bindings if binding["type"] not in VALUE_BINDINGS)


def _over_maximum(name: str, amount: int, server: int, policy: Policy) -> BadRequest:
    namespace = policy.limits.get(name)
    whose = "this namespace's" if namespace is not None and namespace < server else "this server's"
    maximum = min(server, namespace) if namespace is not None else server
    return BadRequest(f"limit {name}={amount} exceeds {whose} maximum of {maximum}", code="limit_exceeds_maximum", limit=name, maximum=maximum)


def _limits(base: Limits, requested: dict[str, int], policy: Policy = NO_POLICY) -> Limits:
    """The script's own limits, which may only tighten the server's and its namespace's."""
    values = policy.bound(base).to_wire()
    for name, amount in requested.items():
        if name in values:
            if amount > values[name]:
                raise _over_maximum(name, amount, base.to_wire()[name], policy)
            values[name] = amount
    return Limits.from_wire(values)


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
    ) -> None:
        self._db = db
        self._blobs = blobs
        self._supervisor = supervisor
        self._namespaces = namespaces
        self._limits = limits
        self._max_script_bytes = max_script_bytes
        self._max_subrequests = max_subrequests
        self._sealer = sealer
        self._deployments: dict[tuple[str, str], tuple[float, Rollout | None]] = {}
        self._rollout_loads: SingleFlight[Rollout | None] = SingleFlight()
        self._source_maps: OrderedDict[str, SourceMap] = OrderedDict()

    # ---- upload

    async def upload(self, namespace: str, name: str, upload: Upload, *, deploy: bool = True) -> tuple[dict[str, Any], bool]:
        """Link, probe, store and (unless `deploy` is false) deploy `upload` at 100%.
        Deploying: (script info, script created). Not deploying, which needs the script to
        exist: (the version, version created)."""
        validate_name(name, "script")
        policy = await self._namespaces.policy(namespace, fresh=True)
        if policy is None:
            raise NotFound(f"namespace {namespace!r} not found", code="namespace_not_found")
        if not deploy:
            async with self._db.connect() as conn:
                await self.require(conn, namespace, name)
        # Capability bindings must name resources of this namespace (400 otherwise).
        await KVService(self._db).check_bindings(namespace, upload.metadata.bindings)
        if upload.size > self._max_script_bytes:
            raise PayloadTooLarge(
                f"the script is over the limit of {self._max_script_bytes} bytes",
                code="script_too_large",
                limit=self._max_script_bytes,
            )
        limits = _limits(self._limits, upload.metadata.limits, policy)
        max_subrequests = policy.bound_subrequests(self._max_subrequests)
        subrequests = upload.metadata.limits.get("subrequests", max_subrequests)
        if subrequests > max_subrequests:
            raise _over_maximum("subrequests", subrequests, self._max_subrequests, policy)
        async with self._db.connect() as conn:  # fail early; _write_deployment decides
            await check_script_quotas(conn, namespace, policy, name, upload.size, WORKER_KINDS)
        source_map: bytes | None = None
        if upload.format is WorkerFormat.MODULE:
            linked = await link(upload.modules, upload.main)
            code, source_map = linked.code, linked.source_map
        else:
            code = upload.modules[0].text()
            await self._check_syntax(code, upload.main)

        module_blobs = [await self._blobs.put(module.content) for module in upload.modules]
        code_blob = await self._blobs.put(code.encode("utf-8"))
        map_blob = await self._blobs.put(source_map) if source_map is not None else None
        described = {
            "format": upload.format.value,
            "main_module": upload.main,
            "modules": [
                {"name": m.name, "type": m.type.value, "blob": blob, "size": len(m.content)}
                for m, blob in zip(upload.modules, module_blobs, strict=True)
            ],
            "layout": upload.layout,
            "content_type": upload.content_type,
            **upload.metadata.to_json(),
        }
        build = digest_of(orjson.dumps({"ns": namespace, "script": name, "code": code_blob, **described}, option=orjson.OPT_SORT_KEYS))[:32]

        capabilities = _capabilities(upload.metadata.bindings)
        handlers: list[str] | None = None
        for _attempt in range(SECRETS_RACE_ATTEMPTS):
            secret_set = await self._secret_set(namespace, name)
            if (taken := secret_set.conflict(upload.metadata.bindings)) is not None:
                raise binding_conflict(taken)
            version_id = versioned(build, secret_set.digest)
            env = {**_env(upload.metadata.bindings), **secret_set.values(self._sealer, namespace, name)}
            if handlers is None:
                # The probing isolate stays cached under this version, so it gets the whole env.
                # (A module's global scope never sees env: the handlers do not depend on it.)
                deployment = Deployment(
                    namespace, name, version_id, upload.format.value, (), limits, code_blob, map_blob, env, capabilities, subrequests
                )
                handlers, startup_ms = await self._probe(deployment, code, upload.main)
            metadata = {
                **described,
                "code_blob": code_blob,
                "source_map_blob": map_blob,
                "handlers": handlers,
                "startup_time_ms": startup_ms,
                **secret_set.metadata(build),
            }
            try:
                stored = await self._store(namespace, name, version_id, upload, metadata, secret_set.digest, deploy)
                break
            except SecretsChanged:
                continue
        else:
            raise Conflict("the script's secrets kept changing during this upload: try again", code="concurrent_change")
        if not deploy:
            return await self.version(namespace, name, version_id), stored.created
        # This server knows the new deployment already: its first request skips the store.
        live = Deployment(
            namespace, name, version_id, upload.format.value, tuple(handlers), limits, code_blob, map_blob, env, capabilities, subrequests
        )
        self._deployments[(namespace, name)] = (time.monotonic() + DEPLOYMENT_CACHE_SECONDS, Rollout(stored.deployment_id, ((live, 100),)))
        return {
            "namespace": namespace,
            "name": name,
            "version_id": version_id,
            "handlers": handlers,
            "created_at": to_iso(stored.created_at),
            "startup_time_ms": startup_ms,
        }, stored.created

    async def _check_syntax(self, code: str, module: str) -> None:
        check = await self._supervisor.check(code)
        if not check.ok:
            where = f"{module}:{check.line}:{check.column}: " if check.line else f"{module}: "
            raise BadRequest(f"{where}{check.message}", code="syntax_error", module=module, line=check.line, column=check.column)

    async def _probe(self, deployment: Deployment, code: str, main: str) -> tuple[list[str], int]:
        """Run the worker's global scope once, under its limits, and ask for its handlers."""

        async def load_code() -> ScriptCode:
            return ScriptCode(code, deployment.env, [{"type": b["type"], "name": b["name"]} for b in deployment.bindings])

        result = await self._supervisor.invoke(deployment.ref, deployment.limits, load_code, {"op": "inspect"})
        if result.outcome is Outcome.OK and isinstance(result.result, dict):
            return [str(h) for h in result.result.get("handlers", [])], round(result.cpu_ms)
        if result.outcome is Outcome.EXCEPTION:
            source_map = SourceMap.parse(await self._blobs.get(deployment.source_map_blob)) if deployment.source_map_blob else None
            error = map_error(result.error, script_file_name(deployment.ref), source_map) or {}
            raise BadRequest(
                f"the script failed at startup: {error.get('name', 'Error')}: {error.get('message', '')}",
                code="script_startup_failed",
                error=error,
            )
        raise BadRequest(
            f"the script's global scope did not finish within its limits ({result.outcome.value})",
            code="script_startup_exceeded_limits",
            outcome=result.outcome.value,
        )

    async def _secret_set(self, namespace: str, name: str) -> SecretSet:
        async with self._db.connect() as conn:
            return await read_secret_set(conn, namespace, name)

    async def _store(
        self,
        namespace: str,
        name: str,
        version_id: str,
        upload: Upload,
        metadata: dict[str, Any],
        secrets_digest: str | None,
        deploy: bool,
    ) -> Stored:
        try:
            return await self._write_version(namespace, name, version_id, upload, metadata, secrets_digest, deploy)
        except IntegrityError:
            # A concurrent first upload of the same script (or version) won the insert.
            await asyncio.sleep(0.01 + secrets.randbelow(20) / 1000)
            return await self._write_version(namespace, name, version_id, upload, metadata, secrets_digest, deploy)

    async def _write_version(
        self,
        namespace: str,
        name: str,
        version_id: str,
        upload: Upload,
        metadata: dict[str, Any],
        secrets_digest: str | None,
        deploy: bool,
    ) -> Stored:
        """Store the version (unless it exists) and, when deploying, deploy it at 100% and
        take the upload's tags. Raises SecretsChanged if the script's secrets are no longer
        those the version has."""
        now = now_ms()
        async with self._db.transaction() as conn:
            # The namespace's row first (quotas count its scripts with it locked), then the
            # script's (a change of secrets takes the same lock), so the secrets read below stay
            # what they are until this commits. An upload that does not deploy leaves the
            # script's modification time alone.
            policy = await lock(conn, namespace)
            if policy is None:
                raise NotFound(f"namespace {namespace!r} not found", code="namespace_not_found")
            await check_script_quotas(conn, namespace, policy, name, upload.size, WORKER_KINDS)
            await conn.execute(
                update(scripts)
                .where(scripts.c.namespace == namespace, scripts.c.name == name)
                .values(updated_at=now if deploy else scripts.c.updated_at)
            )
            row = (await conn.execute(select(scripts.c.kind).where(scripts.c.namespace == namespace, scripts.c.name == name))).first()
            if row is not None and row.kind not in WORKER_KINDS:
                if not deploy:
                    raise script_not_found(namespace, name)
                raise Conflict(f"the name {name!r} is taken by a seed upload", code="script_name_taken")
            if row is None and not deploy:
                raise script_not_found(namespace, name)
            if row is not None and (await read_secret_set(conn, namespace, name)).digest != secrets_digest:
                raise SecretsChanged
            if row is None:
                await conn.execute(
                    insert(scripts).values(
                        namespace=namespace, name=name, kind=upload.format.value, current_version=version_id, created_at=now, updated_at=now
                    )
                )
            version = (await conn.execute(select(versions.c.created_at).where(versions.c.id == version_id))).first()
            if version is None:
                await conn.execute(
                    insert(versions).values(
                        id=version_id,
                        namespace=namespace,
                        script=name,
                        kind=upload.format.value,
                        blob=metadata["code_blob"],
                        size=upload.size,
                        metadata=orjson.dumps(metadata).decode(),
                        created_at=now,
                    )
                )
            deployment_id = None
            if deploy:
                deployment_id = await rollouts.deploy_alone(conn, namespace, name, version_id, upload.format.value, now)
                if upload.metadata.has_tags:
                    await script_tags.replace(conn, namespace, name, upload.metadata.tags)
                if upload.metadata.crons is not None:
                    await triggers.replace(conn, namespace, name, upload.metadata.crons, now)
        created = row is None if deploy else version is None
        return Stored(created, now if version is None else version.created_at, deployment_id)

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
        found = await conn.execute(
            select(scripts.c.name).where(scripts.c.namespace == namespace, scripts.c.name == name, scripts.c.kind.in_(WORKER_KINDS))
        )
        if found.first() is None:
            raise script_not_found(namespace, name)

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
        self._deployments.pop((namespace, name), None)
        return result, version_id

    def forget_namespace(self, namespace: str) -> None:
        """Drop this server's cached deployments of `namespace` (its limits changed)."""
        for key in [key for key in self._deployments if key[0] == namespace]:
            self._deployments.pop(key, None)

    async def delete(self, namespace: str, name: str) -> None:
        async with self._db.transaction() as conn:
            result = await conn.execute(
                delete(scripts).where(and_(scripts.c.namespace == namespace, scripts.c.name == name, scripts.c.kind.in_(WORKER_KINDS)))
            )
        self._deployments.pop((namespace, name), None)
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
            self._deployments.pop((namespace, name), None)
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
        self._deployments.pop((namespace, name), None)
        return rollouts.view(row, deployment_id)

    # ---- invocation

    async def deployed(self, namespace: str, name: str, rollout_key: str | None = None) -> Deployment:
        """The version of `namespace/name` that serves one request, or 404: by the rollout
        key when given (the same key, the same version), else at random by the shares."""
        return (await self.rollout(namespace, name)).pick(rollout_key)

    async def rollout(self, namespace: str, name: str) -> Rollout:
        """The script's current deployment (cached for a second), or 404."""
        key = (namespace, name)
        cached = self._deployments.get(key)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            if cached[1] is None:
                raise script_not_found(namespace, name)
            return cached[1]
        rollout = await self._rollout_loads.run(key, lambda: self._fresh_rollout(namespace, name))
        if rollout is None:
            raise script_not_found(namespace, name)
        return rollout

    async def _fresh_rollout(self, namespace: str, name: str) -> Rollout | None:
        """Loaded from the store and cached; concurrent misses share one load."""
        now = time.monotonic()
        rollout = await self._load_rollout(namespace, name)
        if rollout is not None:
            policy = await self._namespaces.policy(namespace, fresh=True)
            rollout = dataclasses.replace(
                rollout, shares=tuple((self._within_namespace(deployment, policy), share) for deployment, share in rollout.shares)
            )
        if len(self._deployments) > 100_000:
            self._deployments.clear()
        self._deployments[(namespace, name)] = (now + DEPLOYMENT_CACHE_SECONDS, rollout)
        return rollout

    async def _load_rollout(self, namespace: str, name: str) -> Rollout | None:
        # One transaction, so the deployment, its versions and the secrets are of one moment.
        async with self._db.connect() as conn:
            deployment_id, shares = await rollouts.current_versions(conn, namespace, name, WORKER_KINDS)
            wanted = [share["version_id"] for share in shares]
            rows = {
                row.id: row
                for row in await conn.execute(
                    select(versions.c.id, versions.c.kind, versions.c.blob, versions.c.metadata).where(
                        versions.c.id.in_(wanted), versions.c.namespace == namespace, versions.c.script == name
                    )
                )
            }
            if not shares or any(version_id not in rows for version_id in wanted):
                return None
            table: SecretSet | None = None
            loaded: list[tuple[Deployment, float]] = []
            for share in shares:
                row = rows[share["version_id"]]
                meta = orjson.loads(row.metadata)
                secret_set = SecretSet.of_version(meta)
                if secret_set is None:  # stored before versions kept their secrets
                    table = table or await read_secret_set(conn, namespace, name)
                    if table.digest != meta.get("secrets_digest"):
                        raise IsolaneError(
                            f"the deployed version of script {name!r} does not match its stored secrets", code="secrets_out_of_step"
                        )
                    secret_set = table
                loaded.append((self._deployment(namespace, name, row, meta, secret_set), share["percentage"]))
        return Rollout(deployment_id, tuple(loaded))

    def _deployment(self, namespace: str, name: str, row: Any, meta: dict[str, Any], secret_set: SecretSet) -> Deployment:
        return Deployment(
            namespace,
            name,
            row.id,
            row.kind,
            tuple(meta.get("handlers", [])),
            self._bounded(meta),
            row.blob,
            meta.get("source_map_blob"),
            {**_env(meta.get("bindings", [])), **secret_set.values(self._sealer, namespace, name)},
            _capabilities(meta.get("bindings", [])),
            min(int(meta.get("limits", {}).get("subrequests", self._max_subrequests)), self._max_subrequests),
        )

    @staticmethod
    def _within_namespace(deployment: Deployment, policy: Policy | None) -> Deployment:
        """The deployment under its namespace's limits too (lowered after it was uploaded)."""
        if policy is None or not policy.limits:
            return deployment
        return dataclasses.replace(
            deployment, limits=policy.bound(deployment.limits), subrequests=policy.bound_subrequests(deployment.subrequests)
        )

    def _bounded(self, meta: dict[str, Any]) -> Limits:
        """Stored limits, re-bounded by this server's (its configuration may have changed)."""
        values = self._limits.to_wire()
        for name, amount in meta.get("limits", {}).items():
            if name in values:
                values[name] = min(int(amount), values[name])
        return Limits.from_wire(values)

    async def code(self, deployment: Deployment) -> ScriptCode:
        return ScriptCode(
            (await self._blobs.get(deployment.code_blob)).decode("utf-8"),
            deployment.env,
            [{"type": b["type"], "name": b["name"]} for b in deployment.bindings],
        )

    async def source_map(self, deployment: Deployment) -> SourceMap | None:
        blob = deployment.source_map_blob
        if blob is None:
            return None
        found = self._source_maps.get(blob)
        if found is None:
            found = SourceMap.parse(await self._blobs.get(blob))
            self._source_maps[blob] = found
            while len(self._source_maps) > SOURCE_MAPS_CACHED:
                self._source_maps.popitem(last=False)
        self._source_maps.move_to_end(blob)
        return found
