"""Publishing an upload: link it (ES modules, in a link worker) or check it (a service
worker, compiled by an executor), probe it (run
its global scope once, under its limits, and ask for its handlers), store it as an
immutable version, and (unless told not to) deploy it at 100%.

A version's id is derived from everything that makes it (code, modules, metadata, and the
script's secrets: see platform/secrets.py), so the same upload twice is the same version,
and caches keyed by version never go stale. A version keeps its secrets (as ciphertexts),
so any version can be deployed again as it was.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from isolane.clock import now_ms, to_iso
from isolane.errors import BadRequest, Conflict, NotFound, PayloadTooLarge, Unavailable
from isolane.linker import SourceMap
from isolane.linker.pool import LinkPool
from isolane.platform import deployments as rollouts
from isolane.platform import tags as script_tags
from isolane.platform import triggers
from isolane.platform.deployed import Deployment, DeployedVersions, Rollout, capabilities_of, env_of
from isolane.platform.kv import KVService
from isolane.platform.names import validate_name
from isolane.platform.namespaces import NamespaceService
from isolane.platform.quotas import NO_POLICY, Policy, check_script_quotas, lock
from isolane.platform.runner import script_file_name
from isolane.platform.script_rows import WORKER_KINDS, require_script, script_not_found
from isolane.platform.secrets import SecretSet, binding_conflict, read_secret_set, versioned
from isolane.platform.stacks import map_error
from isolane.platform.uploads import Upload, WorkerFormat
from isolane.sandbox.limits import Limits
from isolane.sandbox.outcomes import Outcome
from isolane.sandbox.supervisor import ScriptCode, Supervisor
from isolane.store.blobs import BlobStore, digest_of
from isolane.store.database import Database
from isolane.store.schema import scripts, versions
from isolane.store.sealing import Sealer

SECRETS_RACE_ATTEMPTS = 3  # an upload that meets concurrent changes of secrets


@dataclass(frozen=True, slots=True)
class Stored:
    """What storing an upload did."""

    created: bool  # a new version (201), not one stored already (200)
    created_at: int  # the version's
    deployment_id: str | None  # when deploying


@dataclass(frozen=True, slots=True)
class Published:
    """What publishing an upload made."""

    version_id: str
    created: bool  # a new version (201), not one stored already (200)
    info: dict[str, Any] | None  # when deploying: the script's new state, as the API answers it


# `import`/`export` at the start of a line: an ES module sent as a classic script.
LOOKS_LIKE_A_MODULE = re.compile(r"^\s*(?:import\s*[\w{*'\"]|export\s+(?:default|const|let|var|function|class|async|\{|\*))", re.M)
# A stack frame's position: `module.ts:3:7` (the first one that is the tenant's).
_LOCATION = re.compile(r"([\w./@-]+\.(?:[cm]?[jt]sx?)):(\d+):(\d+)")


def _first_location(stack: object) -> tuple[str, int, int] | None:
    if not isinstance(stack, str):
        return None
    for found in _LOCATION.finditer(stack):
        return found[1], int(found[2]), int(found[3])
    return None


# A probe the platform canceled (its executor died under it) is run again once before the
# upload is answered 503.
PROBE_ATTEMPTS = 2


class SecretsChanged(Exception):
    """The script's secrets changed between an upload's reading them and its deployment."""


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


class Publisher:
    """Turns uploads into stored (and deployed) versions."""

    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        supervisor: Supervisor,
        namespaces: NamespaceService,
        deployed: DeployedVersions,
        linker: LinkPool,
        *,
        limits: Limits,
        max_script_bytes: int,
        sealer: Sealer,
        max_subrequests: int,
    ) -> None:
        self._db = db
        self._blobs = blobs
        self._supervisor = supervisor
        self._namespaces = namespaces
        self._deployed = deployed
        self._linker = linker
        self._limits = limits
        self._max_script_bytes = max_script_bytes
        self._max_subrequests = max_subrequests
        self._sealer = sealer

    async def upload(self, namespace: str, name: str, upload: Upload, *, deploy: bool = True) -> Published:
        """Link, probe, store and (unless `deploy` is false) deploy `upload` at 100%.
        Not deploying needs the script to exist."""
        validate_name(name, "script")
        policy = await self._namespaces.policy(namespace, fresh=True)
        if policy is None:
            raise NotFound(f"namespace {namespace!r} not found", code="namespace_not_found")
        if not deploy:
            async with self._db.connect() as conn:
                await require_script(conn, namespace, name)
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
            # In a link worker, under its own time bound: never on the event loop (linker/pool.py).
            linked = await self._linker.link(namespace, upload.modules, upload.main)
            code, source_map = linked.code, linked.source_map
        else:
            code = upload.modules[0].text()
            await self._check_syntax(code, upload.main, namespace)

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

        capabilities = capabilities_of(upload.metadata.bindings)
        handlers: list[str] | None = None
        for _attempt in range(SECRETS_RACE_ATTEMPTS):
            secret_set = await self._secret_set(namespace, name)
            if (taken := secret_set.conflict(upload.metadata.bindings)) is not None:
                raise binding_conflict(taken)
            version_id = versioned(build, secret_set.digest)
            env = {**env_of(upload.metadata.bindings), **secret_set.values(self._sealer, namespace, name)}
            if handlers is None:
                # The probing isolate stays cached under this version, so it gets the whole env.
                # (A module's global scope never sees env: the handlers do not depend on it.)
                deployment = Deployment(
                    namespace, name, version_id, upload.format.value, (), limits, code_blob, map_blob, env, capabilities, subrequests,
                    incarnation=policy.created_at,
                )  # fmt: skip
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
            # Nothing was stored: the same upload may simply be sent again.
            raise Conflict("the script's secrets kept changing during this upload: try again", code="concurrent_change", retry_after=1)
        if not deploy:
            return Published(version_id, stored.created, None)
        live = Deployment(
            namespace, name, version_id, upload.format.value, tuple(handlers), limits, code_blob, map_blob, env, capabilities, subrequests,
            incarnation=policy.created_at,
        )  # fmt: skip
        self._deployed.remember(namespace, name, Rollout(stored.deployment_id, ((live, 100),)))
        info = {
            "namespace": namespace,
            "name": name,
            "version_id": version_id,
            "handlers": handlers,
            "created_at": to_iso(stored.created_at),
            "startup_time_ms": startup_ms,
        }
        return Published(version_id, stored.created, info)

    async def _check_syntax(self, code: str, module: str, namespace: str) -> None:
        check = await self._supervisor.check(code, namespace)  # V8 parses it: in the namespace's cordon
        if not check.ok:
            where = f"{module}:{check.line}:{check.column}: " if check.line else f"{module}: "
            hint = ""
            if LOOKS_LIKE_A_MODULE.search(code):
                hint = (
                    f" ({module} looks like an ES module (import/export): upload it with content type "
                    "application/javascript+module, or as a module part of a multipart upload with main_module)"
                )
            raise BadRequest(f"{where}{check.message}{hint}", code="syntax_error", module=module, line=check.line, column=check.column)

    async def _probe(self, deployment: Deployment, code: str, main: str) -> tuple[list[str], int]:
        """Run the worker's global scope once, under its limits, and ask for its handlers."""

        async def load_code() -> ScriptCode:
            return ScriptCode(code, deployment.env, [{"type": b["type"], "name": b["name"]} for b in deployment.bindings])

        for _attempt in range(PROBE_ATTEMPTS):
            result = await self._supervisor.invoke(deployment.ref, deployment.limits, load_code, {"op": "inspect"})
            if result.outcome is not Outcome.CANCELED:
                break
        else:  # the platform stopped it (its executor died): nothing says the script is at fault
            raise Unavailable(
                "the executor checking the script's global scope stopped before it finished: retry the upload",
                code="script_check_interrupted",
                retry_after=1,
            )
        if result.outcome is Outcome.OK and isinstance(result.result, dict):
            return [str(h) for h in result.result.get("handlers", [])], round(result.cpu_ms)
        if result.outcome is Outcome.EXCEPTION:
            source_map = SourceMap.parse(await self._blobs.get(deployment.source_map_blob)) if deployment.source_map_blob else None
            error = map_error(result.error, script_file_name(deployment.ref), source_map) or {}
            where = _first_location(error.get("stack"))
            module, line, column = where if where else (None, None, None)
            raise BadRequest(
                f"{f'{module}:{line}:{column}: ' if where else ''}the script failed at startup: "
                f"{error.get('name', 'Error')}: {error.get('message', '')}",
                code="script_startup_failed",
                error=error,
                module=module,
                line=line,
                column=column,
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
        # 201 for a new version (of a new script or not), 200 for one that existed already.
        return Stored(version is None, now if version is None else version.created_at, deployment_id)
