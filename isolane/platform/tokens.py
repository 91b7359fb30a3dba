"""API tokens: who is calling, and what they may touch.

A token is a random secret shown once; the store keeps only its SHA-256 (the secret has
256 bits of entropy, so a fast hash is enough). A scope is `admin` or `namespace:{ns}`;
read-only tokens may only read.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update

from isolane.errors import BadRequest, NotFound
from isolane.platform.names import validate_name
from isolane.clock import now_ms, to_iso
from isolane.store.database import Database
from isolane.store.schema import tokens

ADMIN_SCOPE = "admin"
NAMESPACE_SCOPE_PREFIX = "namespace:"
SECRET_PREFIX = "isl_"
ENV_ADMIN_TOKEN_ID = "admin-env"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class Principal:
    token_id: str
    name: str
    scope: str
    read_only: bool

    @property
    def is_admin(self) -> bool:
        return self.scope == ADMIN_SCOPE

    @property
    def namespace(self) -> str | None:
        if self.scope.startswith(NAMESPACE_SCOPE_PREFIX):
            return self.scope[len(NAMESPACE_SCOPE_PREFIX) :]
        return None

    def covers(self, namespace: str) -> bool:
        return self.is_admin or self.namespace == namespace


def parse_scope(scope: str) -> str:
    if scope == ADMIN_SCOPE:
        return scope
    if scope.startswith(NAMESPACE_SCOPE_PREFIX):
        validate_name(scope[len(NAMESPACE_SCOPE_PREFIX) :], "namespace")
        return scope
    raise BadRequest(f"invalid scope {scope[:80]!r}: use 'admin' or 'namespace:{{ns}}'", code="invalid_scope")


def token_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "scope": row.scope,
        "read_only": bool(row.read_only),
        "created_at": to_iso(row.created_at),
    }


class TokenService:
    def __init__(self, db: Database, cache_seconds: float) -> None:
        self._db = db
        self._cache_seconds = cache_seconds
        # secret hash -> (principal or None, expiry): a short cache keeps the database off
        # the hot path; a deletion on another instance takes effect within cache_seconds.
        self._cache: dict[str, tuple[Principal | None, float]] = {}

    async def authenticate(self, secret: str) -> Principal | None:
        digest = hash_secret(secret)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        async with self._db.connect() as conn:
            row = (await conn.execute(select(tokens).where(tokens.c.secret_hash == digest))).first()
        principal = Principal(row.id, row.name, row.scope, bool(row.read_only)) if row else None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (principal, now + self._cache_seconds)
        return principal

    async def create(self, name: str, scope: str, read_only: bool) -> tuple[dict[str, Any], str]:
        secret = new_secret()
        row = {
            "id": secrets.token_hex(8),
            "name": name,
            "scope": parse_scope(scope),
            "read_only": read_only,
            "secret_hash": hash_secret(secret),
            "created_at": now_ms(),
        }
        async with self._db.transaction() as conn:
            await conn.execute(insert(tokens).values(**row))
        return token_view(_Row(row)), secret

    async def list(self, namespace: str | None) -> list[dict[str, Any]]:
        query = select(tokens).order_by(tokens.c.created_at, tokens.c.id)
        if namespace is not None:
            query = query.where(tokens.c.scope == NAMESPACE_SCOPE_PREFIX + namespace)
        async with self._db.connect() as conn:
            return [token_view(row) for row in (await conn.execute(query))]

    async def principal_by_id(self, token_id: str) -> tuple[Principal, str] | None:
        """The token's principal and secret hash, read from the store every time (no cache):
        for sessions that refer to a token by id and must end when it is deleted or its
        secret replaced."""
        async with self._db.connect() as conn:
            row = (await conn.execute(select(tokens).where(tokens.c.id == token_id))).first()
        if row is None:
            return None
        return Principal(row.id, row.name, row.scope, bool(row.read_only)), row.secret_hash

    async def get(self, token_id: str) -> dict[str, Any] | None:
        async with self._db.connect() as conn:
            row = (await conn.execute(select(tokens).where(tokens.c.id == token_id))).first()
        return token_view(row) if row else None

    async def delete(self, token_id: str) -> None:
        async with self._db.transaction() as conn:
            result = await conn.execute(delete(tokens).where(tokens.c.id == token_id))
        if result.rowcount == 0:
            raise NotFound(f"token {token_id!r} not found", code="token_not_found")
        self._cache.clear()

    async def delete_for_namespace(self, namespace: str) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(delete(tokens).where(tokens.c.scope == NAMESPACE_SCOPE_PREFIX + namespace))
        self._cache.clear()

    async def bootstrap_admin(self, env_secret: str | None) -> str | None:
        """Make sure an admin can get in; returns a newly generated secret to show once.

        With `ISOLANE_ADMIN_TOKEN` set, that secret is the admin token (updated if it
        changed). Otherwise a token is generated on the first start only.
        """
        async with self._db.transaction() as conn:
            if env_secret:
                digest = hash_secret(env_secret)
                existing = (await conn.execute(select(tokens.c.id).where(tokens.c.id == ENV_ADMIN_TOKEN_ID))).first()
                if existing:
                    await conn.execute(update(tokens).where(tokens.c.id == ENV_ADMIN_TOKEN_ID).values(secret_hash=digest))
                else:
                    await conn.execute(
                        insert(tokens).values(
                            id=ENV_ADMIN_TOKEN_ID,
                            name="admin (ISOLANE_ADMIN_TOKEN)",
                            scope=ADMIN_SCOPE,
                            read_only=False,
                            secret_hash=digest,
                            created_at=now_ms(),
                        )
                    )
                return None
            any_admin = (await conn.execute(select(tokens.c.id).where(tokens.c.scope == ADMIN_SCOPE).limit(1))).first()
            if any_admin:
                return None
            secret = new_secret()
            await conn.execute(
                insert(tokens).values(
                    id=secrets.token_hex(8),
                    name="admin (generated on first start)",
                    scope=ADMIN_SCOPE,
                    read_only=False,
                    secret_hash=hash_secret(secret),
                    created_at=now_ms(),
                )
            )
            return secret


class _Row:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
