"""Per-namespace limits and quotas, which only admins set (`PUT /v1/namespaces/{ns}`).

They live in the namespace's `settings` column as JSON, `{"limits": {...}, "quotas": {...}}`:

- `limits` (cpu_ms, memory_mb, wall_ms, subrequests) are maximums for the namespace's
  scripts: an upload asking more is refused (400 `limit_exceeds_maximum`), and at run time
  a script gets the smallest of the server's, the namespace's and its own, so lowering a
  namespace's limit also bounds scripts deployed before.
- `max_scripts`, `max_code_bytes` and `max_kv_namespaces` are checked where things are
  created, inside the creating transaction with the namespace's row locked (`lock`), so two
  concurrent creations cannot both slip under a quota (403 `quota_exceeded`).
  `max_code_bytes` counts each script's current version (all its modules, as uploaded):
  older versions are history, not what the namespace runs.
- `requests_per_second` and `burst` are a token bucket per namespace: platform/rates.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from isolane.errors import BadRequest, Forbidden
from isolane.platform.names import DNS_LABEL
from isolane.platform.uploads import LIMIT_NAMES
from isolane.sandbox.limits import Limits
from isolane.store.schema import kv_namespaces, namespaces, scripts, versions

COUNT_QUOTAS = ("max_scripts", "max_code_bytes", "max_kv_namespaces")
RATE_QUOTAS = ("requests_per_second", "burst")
QUOTA_NAMES = COUNT_QUOTAS + RATE_QUOTAS
ROUTE_KEYS = ("dispatcher", "outbound")  # "{ns}/{script}" of a platform-owned script, or absent
SETTINGS_KEYS = ("limits", "quotas", *ROUTE_KEYS)
MAX_QUOTA = 2**53 - 1  # survives a round trip through JSON in any language
MAX_RATE = 1_000_000.0


@dataclass(frozen=True, slots=True)
class Policy:
    """A namespace's limits and quotas, as stored (an empty dict: none set)."""

    limits: dict[str, int] = field(default_factory=dict)
    quotas: dict[str, int | float] = field(default_factory=dict)
    rate: float | None = None  # requests per second, when the namespace has a rate quota
    burst: int = 0
    dispatcher: tuple[str, str] | None = None  # (namespace, script) every hostname request goes to
    outbound: tuple[str, str] | None = None  # (namespace, script) every fetch() goes through
    created_at: int = 0  # this namespace's creation (epoch ms): tells it from an earlier one of its name

    @classmethod
    def from_settings(cls, text: str | None) -> Policy:
        settings = orjson.loads(text) if text else {}
        limits = {k: int(v) for k, v in (settings.get("limits") or {}).items() if k in LIMIT_NAMES}
        quotas = {k: v for k, v in (settings.get("quotas") or {}).items() if k in QUOTA_NAMES}
        routes = {key: _route(settings.get(key)) for key in ROUTE_KEYS}
        rate = quotas.get("requests_per_second")
        if rate is None:
            return cls(limits, quotas, **routes)
        return cls(limits, quotas, float(rate), int(quotas.get("burst") or default_burst(float(rate))), **routes)

    def to_json(self) -> dict[str, Any]:
        return {
            "limits": dict(self.limits),
            "quotas": dict(self.quotas),
            "dispatcher": "/".join(self.dispatcher) if self.dispatcher else None,
            "outbound": "/".join(self.outbound) if self.outbound else None,
        }

    def bound(self, limits: Limits) -> Limits:
        """`limits`, lowered to the namespace's where those are smaller."""
        mine = self.limits
        if not (mine.keys() & {"cpu_ms", "wall_ms", "memory_mb"}):
            return limits
        return Limits(
            cpu_ms=min(limits.cpu_ms, mine.get("cpu_ms", limits.cpu_ms)),
            wall_ms=min(limits.wall_ms, mine.get("wall_ms", limits.wall_ms)),
            memory_mb=min(limits.memory_mb, mine.get("memory_mb", limits.memory_mb)),
        )

    def bound_subrequests(self, subrequests: int) -> int:
        return min(subrequests, self.limits.get("subrequests", subrequests))


NO_POLICY = Policy()


def _route(value: Any) -> tuple[str, str] | None:
    if not isinstance(value, str) or "/" not in value:
        return None
    namespace, script = value.split("/", 1)
    return namespace, script


def default_burst(rate: float) -> int:
    """The burst of a rate quota that names none: one second's worth (at least 1)."""
    return max(1, math.ceil(rate))


# ---- what an admin sends


def _invalid(message: str, code: str, **details: Any) -> BadRequest:
    return BadRequest(message, code=code, **details)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_limits(value: Any) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _invalid("limits must be an object", "invalid_limit")
    limits: dict[str, int] = {}
    for name, amount in value.items():
        if name not in LIMIT_NAMES:
            raise _invalid(f"unknown limit {str(name)[:40]!r} (known: {', '.join(LIMIT_NAMES)})", "invalid_limit", limit=str(name)[:40])
        if not _whole(amount) or not 0 < amount <= MAX_QUOTA:
            raise _invalid(f"limit {name} must be a positive integer", "invalid_limit", limit=name)
        limits[name] = amount
    return limits


def parse_quotas(value: Any) -> dict[str, int | float]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _invalid("quotas must be an object", "invalid_quota")
    quotas: dict[str, int | float] = {}
    for name, amount in value.items():
        if name not in QUOTA_NAMES:
            raise _invalid(f"unknown quota {str(name)[:40]!r} (known: {', '.join(QUOTA_NAMES)})", "invalid_quota", quota=str(name)[:40])
        if name == "requests_per_second":
            if isinstance(amount, bool) or not isinstance(amount, int | float) or not 0 < amount <= MAX_RATE:
                raise _invalid(f"quota {name} must be a number above 0, at most {MAX_RATE:g}", "invalid_quota", quota=name)
        elif name == "burst":
            if not _whole(amount) or not 0 < amount <= MAX_QUOTA:
                raise _invalid(f"quota {name} must be a positive integer", "invalid_quota", quota=name)
        elif not _whole(amount) or not 0 <= amount <= MAX_QUOTA:
            raise _invalid(f"quota {name} must be an integer of at least 0", "invalid_quota", quota=name)
        quotas[name] = amount
    if "burst" in quotas and "requests_per_second" not in quotas:
        raise _invalid("quota burst needs requests_per_second", "invalid_quota", quota="burst")
    if "requests_per_second" in quotas and "burst" not in quotas:
        quotas["burst"] = default_burst(float(quotas["requests_per_second"]))
    return quotas


def parse_route(value: Any, key: str, namespace: str) -> str | None:
    """A `dispatcher` or `outbound` setting: "{ns}/{script}" naming a script of another
    namespace (both DNS labels), or null to remove it."""
    if value is None:
        return None
    if not isinstance(value, str) or value.count("/") != 1:
        raise _invalid(f'{key} must be "{{namespace}}/{{script}}" or null', f"invalid_{key}")
    route_ns, script = value.split("/")
    for name, kind in ((route_ns, "namespace"), (script, "script")):
        if not DNS_LABEL.fullmatch(name):
            raise _invalid(f"{key}: {name[:80]!r} is not a valid {kind} name (a DNS label)", f"invalid_{key}")
    if route_ns == namespace:
        raise _invalid(f"{key}: the script must live in another namespace than {namespace!r}", f"invalid_{key}")
    return value


def parse_changes(body: Any, namespace: str = "") -> dict[str, Any]:
    """The settings a `PUT /v1/namespaces/{ns}` body changes: each of `limits` and `quotas`
    it holds replaces the namespace's (null or {} removes them all); one it leaves out stays.
    `dispatcher` and `outbound` ("{ns}/{script}" or null) likewise."""
    if not isinstance(body, dict):
        raise _invalid('the body must be a JSON object: {"limits": {...}, "quotas": {...}}', "invalid_request")
    unknown = [key for key in body if key not in SETTINGS_KEYS]
    if unknown:
        raise _invalid(f"unknown field {str(unknown[0])[:40]!r} (known: {', '.join(SETTINGS_KEYS)})", "invalid_request")
    changes: dict[str, Any] = {}
    if "limits" in body:
        changes["limits"] = parse_limits(body["limits"])
    if "quotas" in body:
        changes["quotas"] = parse_quotas(body["quotas"])
    for key in ROUTE_KEYS:
        if key in body:
            changes[key] = parse_route(body[key], key, namespace)
    return changes


def changed_settings(text: str | None, changes: dict[str, Any]) -> str:
    settings = orjson.loads(text) if text else {}
    return orjson.dumps({**settings, **changes}).decode()


# ---- count and size quotas, checked where things are created


def quota_exceeded(namespace: str, quota: str, limit: int, current: int) -> Forbidden:
    return Forbidden(
        f"namespace {namespace!r} is at its quota {quota}={limit} (in use: {current})",
        code="quota_exceeded",
        quota=quota,
        limit=limit,
        current=current,
    )


async def lock(conn: AsyncConnection, namespace: str) -> Policy | None:
    """Lock the namespace's row until the transaction ends and read its policy; None if
    there is no such namespace. A write, not a read, comes first: SQLite then takes its
    write lock at once (waiting its turn) instead of failing to upgrade a read later, and
    PostgreSQL locks the row as SELECT ... FOR UPDATE would."""
    locked = await conn.execute(update(namespaces).where(namespaces.c.name == namespace).values(settings=namespaces.c.settings))
    if locked.rowcount == 0:
        return None
    settings = (await conn.execute(select(namespaces.c.settings).where(namespaces.c.name == namespace))).scalar_one()
    return Policy.from_settings(settings)


async def check_script_quotas(conn: AsyncConnection, namespace: str, policy: Policy, script: str, size: int, kinds: tuple[str, ...]) -> None:
    """Whether `script` may become (or stay) a script of `size` bytes: `max_scripts` counts
    scripts (a new one adds one), `max_code_bytes` their current versions' bytes (an upload
    that does not grow the total always passes, so a namespace over a lowered quota can shrink)."""
    max_scripts = policy.quotas.get("max_scripts")
    max_bytes = policy.quotas.get("max_code_bytes")
    if max_scripts is None and max_bytes is None:
        return
    in_namespace = (
        select(scripts.c.name, versions.c.size)
        .select_from(scripts.outerjoin(versions, versions.c.id == scripts.c.current_version))
        .where(scripts.c.namespace == namespace, scripts.c.kind.in_(kinds))
    ).subquery()
    others, other_bytes = (
        await conn.execute(
            select(func.count(), func.coalesce(func.sum(in_namespace.c.size), 0)).where(in_namespace.c.name != script)
        )
    ).one()
    own = (await conn.execute(select(in_namespace.c.size).where(in_namespace.c.name == script))).first()
    if own is None and max_scripts is not None and others + 1 > max_scripts:
        raise quota_exceeded(namespace, "max_scripts", int(max_scripts), others)
    current = int(other_bytes) + (int(own.size or 0) if own is not None else 0)
    total = int(other_bytes) + size
    if max_bytes is not None and total > max_bytes and total > current:
        raise quota_exceeded(namespace, "max_code_bytes", int(max_bytes), current)


async def check_kv_quota(conn: AsyncConnection, namespace: str, policy: Policy) -> None:
    limit = policy.quotas.get("max_kv_namespaces")
    if limit is None:
        return
    count = (await conn.execute(select(func.count()).select_from(kv_namespaces).where(kv_namespaces.c.namespace == namespace))).scalar_one()
    if count + 1 > limit:
        raise quota_exceeded(namespace, "max_kv_namespaces", int(limit), count)
