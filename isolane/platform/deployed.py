"""The deployed versions of Workers scripts, as invocations need them: what serves
`namespace/name` now (its deployment's versions and their shares), each version's code,
env and limits, and its source map.

Which versions are deployed, and in what shares, lives in the store (platform/deployments.py);
each server caches that answer for a second, so other instances see a change within that
time (this one at once: the operations that change it tell this cache).
"""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import select

from isolane.errors import IsolaneError
from isolane.linker import SourceMap
from isolane.platform import deployments as rollouts
from isolane.platform.namespaces import NamespaceService
from isolane.platform.quotas import Policy
from isolane.platform.script_rows import WORKER_KINDS, script_not_found
from isolane.platform.secrets import SecretSet, read_secret_set
from isolane.sandbox.limits import Limits
from isolane.sandbox.supervisor import ScriptCode, ScriptRef
from isolane.singleflight import SingleFlight
from isolane.store.blobs import BlobDamaged, BlobMissing, BlobStore
from isolane.store.database import Database
from isolane.store.schema import versions
from isolane.store.sealing import Sealer

DEPLOYMENT_CACHE_SECONDS = 1.0
SOURCE_MAPS_CACHED = 256
SOURCE_MAP_CACHE_BYTES = 64 << 20  # the map of a 10 MB script is ~12 MB
VALUE_BINDINGS = ("plain_text", "json")


class StoredCodeDamaged(IsolaneError):
    """A version's stored code is missing, or no longer what was stored (its digest does
    not match, or it is not UTF-8): it is never run, and retrying will not help."""

    status, code = 500, "stored_code_damaged"


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
    incarnation: int = 0  # the namespace's creation time (ScriptRef.incarnation)

    @property
    def ref(self) -> ScriptRef:
        return ScriptRef(self.namespace, self.script, self.version, self.kind, self.variant, self.incarnation)


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


def env_of(bindings: list[dict[str, Any]]) -> dict[str, Any]:
    """Bindings that are plain values on `env`."""
    env: dict[str, Any] = {}
    for binding in bindings:
        if binding["type"] == "plain_text":
            env[binding["name"]] = binding["text"]
        elif binding["type"] == "json":
            env[binding["name"]] = binding["json"]
    return env


def capabilities_of(bindings: list[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    """Bindings that are objects backed by the server (KV, ...)."""
    return tuple(binding for binding in bindings if binding["type"] not in VALUE_BINDINGS)


class DeployedVersions:
    """The invocation side of scripts: current deployments (cached), code and source maps."""

    def __init__(
        self, db: Database, blobs: BlobStore, namespaces: NamespaceService, *, limits: Limits, sealer: Sealer, max_subrequests: int
    ) -> None:
        self._db = db
        self._blobs = blobs
        self._namespaces = namespaces
        self._limits = limits
        self._sealer = sealer
        self._max_subrequests = max_subrequests
        self._deployments: dict[tuple[str, str], tuple[float, Rollout | None]] = {}
        self._rollout_loads: SingleFlight[Rollout | None] = SingleFlight()
        self._source_maps: OrderedDict[str, SourceMap] = OrderedDict()
        self._source_map_bytes = 0

    def remember(self, namespace: str, name: str, rollout: Rollout) -> None:
        """This server knows the new deployment already: its first request skips the store."""
        self._deployments[(namespace, name)] = (time.monotonic() + DEPLOYMENT_CACHE_SECONDS, rollout)

    def forget(self, namespace: str, name: str) -> None:
        self._deployments.pop((namespace, name), None)

    def forget_namespace(self, namespace: str) -> None:
        """Drop this server's cached deployments of `namespace` (its limits changed)."""
        for key in [key for key in self._deployments if key[0] == namespace]:
            self._deployments.pop(key, None)

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
            {**env_of(meta.get("bindings", [])), **secret_set.values(self._sealer, namespace, name)},
            capabilities_of(meta.get("bindings", [])),
            min(int(meta.get("limits", {}).get("subrequests", self._max_subrequests)), self._max_subrequests),
        )

    @staticmethod
    def _within_namespace(deployment: Deployment, policy: Policy | None) -> Deployment:
        """The deployment under its namespace's limits too (lowered after it was uploaded),
        and of this namespace's incarnation (its isolates are its own)."""
        if policy is None:
            return deployment
        if not policy.limits:
            return dataclasses.replace(deployment, incarnation=policy.created_at)
        return dataclasses.replace(
            deployment,
            limits=policy.bound(deployment.limits),
            subrequests=policy.bound_subrequests(deployment.subrequests),
            incarnation=policy.created_at,
        )

    def _bounded(self, meta: dict[str, Any]) -> Limits:
        """Stored limits, re-bounded by this server's (its configuration may have changed)."""
        values = self._limits.to_wire()
        for name, amount in meta.get("limits", {}).items():
            if name in values:
                values[name] = min(int(amount), values[name])
        return Limits.from_wire(values)

    async def code(self, deployment: Deployment) -> ScriptCode:
        try:
            text = (await self._blobs.get(deployment.code_blob)).decode("utf-8")
        except (BlobMissing, BlobDamaged, UnicodeDecodeError) as exc:
            what = "missing" if isinstance(exc, BlobMissing) else "damaged"
            raise StoredCodeDamaged(
                f"the stored code of {deployment.ref.namespace}/{deployment.ref.script} version {deployment.ref.version} "
                f"is {what} (blob {deployment.code_blob[:12]}…): restore it from a backup, or deploy the script again",
                version=deployment.ref.version,
            ) from None
        return ScriptCode(text, deployment.env, [{"type": b["type"], "name": b["name"]} for b in deployment.bindings])

    async def source_map(self, deployment: Deployment) -> SourceMap | None:
        blob = deployment.source_map_blob
        if blob is None:
            return None
        found = self._source_maps.get(blob)
        if found is None:
            found = SourceMap.parse(await self._blobs.get(blob))  # parsed only if an error needs it
            self._source_maps[blob] = found
            self._source_map_bytes += found.size
            while len(self._source_maps) > SOURCE_MAPS_CACHED or self._source_map_bytes > SOURCE_MAP_CACHE_BYTES:
                _, dropped = self._source_maps.popitem(last=False)
                self._source_map_bytes -= dropped.size
                if dropped is found:
                    return found
        self._source_maps.move_to_end(blob)
        return found
