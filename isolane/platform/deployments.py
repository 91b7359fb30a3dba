"""Deployments: which versions of a script serve its traffic, and in what shares.

A deployment is one or two versions of the script with percentages that total 100, in
Cloudflare's shape: `{"versions": [{"version_id", "percentage"}]}`. Every upload with PUT
and every change of secrets deploys its version at 100%; `POST .../deployments` deploys
any versions of the script: a rollback is deploying an older one, two versions split the
traffic (a gradual rollout). Deployments are kept as records (table `deployments`);
`scripts.deployment_id` names the current one and `scripts.current_version` its version
with the largest share (the first listed on a tie), so what reads "the script's version"
keeps working.

Which version serves a request: with `x-isolane-rollout-key`, the key hashed with the
deployment's id gives a point in [0, 100), so one key lands on one version for as long as
the deployment lasts; without the header, a random point. The versions' shares are laid
end to end in the order the deployment lists them.
"""

from __future__ import annotations

import hashlib
import math
import random
import secrets
from collections.abc import Sequence
from typing import Any, TypeVar

import orjson
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from isolane.clock import now_ms, to_iso
from isolane.errors import BadRequest
from isolane.store.schema import deployments, scripts

MAX_VERSIONS = 2
ROLLOUT_HEADER = "x-isolane-rollout-key"
_TOTAL_TOLERANCE = 1e-6

T = TypeVar("T")


def new_deployment_id() -> str:
    """32 hex digits that sort by creation time: 12 of milliseconds, 20 random."""
    return f"{now_ms():012x}{secrets.token_hex(10)}"


def _invalid(message: str, code: str = "invalid_deployment") -> BadRequest:
    return BadRequest(message, code=code)


def parse_deployment(raw: Any) -> list[dict[str, Any]]:
    """The versions of a deployment request's JSON value, checked: [{"version_id", "percentage"}]."""
    if not isinstance(raw, dict):
        raise BadRequest('the body must be a JSON object: {"versions": [{"version_id", "percentage"}]}', code="invalid_json")
    listed = raw.get("versions")
    if not isinstance(listed, list) or not listed:
        raise _invalid('"versions" must be a non-empty list of {"version_id", "percentage"}')
    if len(listed) > MAX_VERSIONS:
        raise _invalid(f"a deployment has at most {MAX_VERSIONS} versions", code="too_many_versions")
    versions: list[dict[str, Any]] = []
    for item in listed:
        if not isinstance(item, dict):
            raise _invalid('each version must be an object {"version_id", "percentage"}')
        version_id, percentage = item.get("version_id"), item.get("percentage")
        if not isinstance(version_id, str) or not 0 < len(version_id) <= 64:
            raise _invalid("each version needs its version_id (a string)")
        if any(version_id == seen["version_id"] for seen in versions):
            raise _invalid(f"version {version_id!r} is listed twice", code="duplicate_version")
        if isinstance(percentage, bool) or not isinstance(percentage, int | float) or not math.isfinite(percentage):
            raise _invalid(f"version {version_id!r}: percentage must be a number", code="invalid_percentage")
        if not 0 < percentage <= 100:
            raise _invalid(f"version {version_id!r}: percentage must be above 0 and at most 100", code="invalid_percentage")
        versions.append({"version_id": version_id, "percentage": percentage})
    total = sum(version["percentage"] for version in versions)
    if abs(total - 100) > _TOTAL_TOLERANCE:
        raise _invalid(f"the percentages must total 100 (they total {total:g})", code="invalid_percentage_total")
    return versions


def rollout_point(deployment_id: str, key: str) -> float:
    """Where `key` falls in [0, 100) for this deployment: the same answer on every server."""
    digest = hashlib.sha256(f"{deployment_id}\n{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


def random_point() -> float:
    return random.random() * 100  # noqa: S311 - traffic shares, not secrets


def choose(shares: Sequence[tuple[T, float]], point: float) -> T:
    """The item whose share covers `point`, the shares laid end to end in order."""
    reached = 0.0
    for item, percentage in shares:
        reached += percentage
        if point < reached:
            return item
    return shares[-1][0]  # rounding left a sliver past the last share


def main_version(versions: Sequence[dict[str, Any]]) -> str:
    """The version with the largest share (the first listed on a tie)."""
    best = versions[0]
    for version in versions[1:]:
        if version["percentage"] > best["percentage"]:
            best = version
    return str(best["version_id"])


def view(row: Any, current: str | None) -> dict[str, Any]:
    return {
        "id": row.id,
        "created_at": to_iso(row.created_at),
        "versions": orjson.loads(row.versions),
        "current": row.id == current,
    }


async def current_versions(
    conn: AsyncConnection, namespace: str, script: str, kinds: Sequence[str] | None = None
) -> tuple[str | None, list[dict[str, Any]]]:
    """The current deployment's id and versions (none: no such script, of `kinds` if given).
    A script deployed before deployments were recorded has no deployment id: its current
    version serves everything."""
    query = (
        select(scripts.c.current_version, scripts.c.deployment_id, deployments.c.versions)
        .select_from(scripts.outerjoin(deployments, deployments.c.id == scripts.c.deployment_id))
        .where(scripts.c.namespace == namespace, scripts.c.name == script)
    )
    if kinds is not None:
        query = query.where(scripts.c.kind.in_(kinds))
    row = (await conn.execute(query)).first()
    if row is None:
        return None, []
    if row.versions is None:
        return None, [{"version_id": row.current_version, "percentage": 100}] if row.current_version else []
    return row.deployment_id, orjson.loads(row.versions)


async def record(
    conn: AsyncConnection, namespace: str, script: str, versions: list[dict[str, Any]], kind: str, now: int
) -> str:
    """Store a deployment and make it the script's current one; its id."""
    deployment_id = new_deployment_id()
    await conn.execute(
        insert(deployments).values(
            id=deployment_id, namespace=namespace, script=script, versions=orjson.dumps(versions).decode(), created_at=now
        )
    )
    await conn.execute(
        update(scripts)
        .where(scripts.c.namespace == namespace, scripts.c.name == script)
        .values(deployment_id=deployment_id, current_version=main_version(versions), kind=kind)
    )
    return deployment_id


async def deploy_alone(conn: AsyncConnection, namespace: str, script: str, version_id: str, kind: str, now: int) -> str:
    """Deploy one version at 100% (an upload, a change of secrets), unless that is already
    the current deployment (an identical upload again); the deployment's id."""
    current_id, current = await current_versions(conn, namespace, script)
    if current_id is not None and current == [{"version_id": version_id, "percentage": 100}]:
        return current_id
    return await record(conn, namespace, script, [{"version_id": version_id, "percentage": 100}], kind, now)
