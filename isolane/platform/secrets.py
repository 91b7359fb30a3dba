"""Script secrets: values a script sees on `env`, encrypted at rest, never shown again.

A script's secrets are part of what it runs, like its bindings: setting or deleting one
makes a new version and deploys it (`ScriptService.change_secrets`). A version's id
derives from its build (code, modules, metadata) and, when the script has secrets, from a
digest of their names, types and ciphertexts (never of the values alone), so an isolate
cached for a version never serves another set. Each version records that digest and the
ciphertexts themselves, so it keeps its own secrets when deployed again later (a rollback,
a traffic split); the secrets table holds the script's latest set, what the next upload or
change builds on. A change and the deployment of its version happen in one transaction,
under the script row's lock.

The value leaves this module only as ciphertext (to the store) or as plaintext on the way
to an executor (`ScriptCode.env`, IPC only). It is never in a response, an error, a record
or a log line.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from isolane.clock import now_ms
from isolane.errors import BadRequest, IsolaneError, NotFound, PayloadTooLarge
from isolane.store.database import Database
from isolane.store.schema import secrets as secrets_table
from isolane.store.sealing import KeyMismatch, SealError, Sealer, sealed_key_id

if TYPE_CHECKING:
    from isolane.platform.scripts import ScriptService

log = logging.getLogger(__name__)

SECRET_TYPES = ("secret_text",)
MAX_SECRET_BYTES = 5 * 1024  # of UTF-8, as in Workers
MAX_SECRETS = 128  # per script
# The rule for binding names (platform/uploads.py): a JavaScript identifier, <= 64 chars.
SECRET_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]{0,63}")


class SecretsUnreadable(IsolaneError):
    """Stored secrets that this server's key cannot open (a misconfigured key)."""

    status, code = 500, "secrets_key_mismatch"


def secret_context(namespace: str, script: str, name: str) -> bytes:
    """The associated data of a secret's ciphertext: it opens only where it was sealed."""
    return orjson.dumps(["isolane secret", namespace, script, name])


def versioned(build: str, digest: str | None) -> str:
    """A version id: the build's own id without secrets, else one that covers them too."""
    if digest is None:
        return build
    return hashlib.sha256(orjson.dumps({"build": build, "secrets": digest})).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class SecretSet:
    """A script's secrets as stored: (name, type, ciphertext), sorted by name."""

    rows: tuple[tuple[str, str, bytes], ...] = ()

    @classmethod
    def of(cls, rows: Iterable[tuple[str, str, bytes]]) -> SecretSet:
        return cls(tuple(sorted((name, kind, bytes(sealed)) for name, kind, sealed in rows)))

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def names(self) -> list[str]:
        return [name for name, _, _ in self.rows]

    @property
    def digest(self) -> str | None:
        """What a version id depends on: names, types and ciphertexts (None: no secrets)."""
        if not self.rows:
            return None
        listed = [[name, kind, sealed.hex()] for name, kind, sealed in self.rows]
        return hashlib.sha256(orjson.dumps(listed)).hexdigest()

    def described(self) -> list[dict[str, str]]:
        return [{"name": name, "type": kind} for name, kind, _ in self.rows]

    def metadata(self, build: str) -> dict[str, Any]:
        """What a version's metadata records about its secrets: names and types, and the
        ciphertexts (never values), so the version keeps its own secrets: a rollback or a
        traffic split runs each version with the secrets it was made with."""
        return {
            "build": build,
            "secrets": self.described(),
            "secrets_digest": self.digest,
            "sealed_secrets": [[name, kind, base64.b64encode(sealed).decode("ascii")] for name, kind, sealed in self.rows],
        }

    @classmethod
    def of_version(cls, meta: dict[str, Any]) -> SecretSet | None:
        """The secrets a version was made with, or None for a version stored before versions
        kept them (it then needs the script's current secrets to be the same)."""
        sealed = meta.get("sealed_secrets")
        if sealed is None:
            return cls() if meta.get("secrets_digest") is None else None
        found = cls.of((name, kind, base64.b64decode(text)) for name, kind, text in sealed)
        if found.digest != meta.get("secrets_digest"):
            raise IsolaneError("a version's secrets do not match its digest", code="secrets_out_of_step")
        return found

    def changed(self, other: SecretSet) -> list[str]:
        """Names whose secret differs between the two sets (added, removed or set again)."""
        mine = {name: (kind, sealed) for name, kind, sealed in self.rows}
        theirs = {name: (kind, sealed) for name, kind, sealed in other.rows}
        return sorted(name for name in mine.keys() | theirs.keys() if mine.get(name) != theirs.get(name))

    def check_key(self, sealer: Sealer, namespace: str, script: str) -> None:
        """Refuse to add to a set sealed under another key (it would become unreadable)."""
        for _, _, sealed in self.rows:
            if sealed_key_id(sealed) != sealer.key_id:
                raise _unreadable(namespace, script, KeyMismatch(sealed_key_id(sealed).hex(), sealer.key_id.hex()))

    def values(self, sealer: Sealer, namespace: str, script: str) -> dict[str, str]:
        """The plaintext values, for `env`."""
        values: dict[str, str] = {}
        for name, _, sealed in self.rows:
            try:
                values[name] = sealer.open(sealed, secret_context(namespace, script, name)).decode("utf-8")
            except (SealError, UnicodeDecodeError) as exc:
                raise _unreadable(namespace, script, exc) from None
        return values

    def conflict(self, bindings: Iterable[dict[str, Any]]) -> str | None:
        """The first binding name that is also a secret's name."""
        taken = set(self.names)
        for binding in bindings:
            if binding.get("name") in taken:
                return str(binding["name"])
        return None


def _unreadable(namespace: str, script: str, exc: Exception) -> SecretsUnreadable:
    message = f"the secrets of script {script!r} in namespace {namespace!r} cannot be decrypted: {exc}"
    log.error("%s", message)
    return SecretsUnreadable(message)


def binding_conflict(name: str) -> BadRequest:
    return BadRequest(
        f"the name {name!r} is used by both a binding and a secret of this script: env has one value per name",
        code="binding_name_conflict",
        binding=name,
    )


async def read_secret_set(conn: AsyncConnection, namespace: str, script: str) -> SecretSet:
    rows = await conn.execute(
        select(secrets_table.c.name, secrets_table.c.type, secrets_table.c.ciphertext).where(
            secrets_table.c.namespace == namespace, secrets_table.c.script == script
        )
    )
    return SecretSet.of((row.name, row.type, row.ciphertext) for row in rows)


async def check_stored_keys(db: Database, sealer: Sealer) -> None:
    """At startup: every stored secret must be sealed under this server's key."""
    async with db.connect() as conn:
        found = [bytes(row[0]) for row in await conn.execute(select(func.substr(secrets_table.c.ciphertext, 2, 8)).distinct())]
    foreign = sorted(key_id.hex() for key_id in found if key_id != sealer.key_id)
    if foreign:
        raise ValueError(
            f"stored secrets were encrypted with another secrets key (key id {', '.join(foreign)}; this server's key id is "
            f"{sealer.key_id.hex()}). Start with the key they were sealed with: servers sharing a database must share "
            "--secrets-key / ISOLANE_SECRETS_KEY, and an embedded server keeps its key in DATA_DIR/secrets.key."
        )


def parse_secret(raw: Any) -> tuple[str, str, str]:
    """(name, type, text) from a request body's JSON value; errors never quote the value."""
    if not isinstance(raw, dict):
        raise BadRequest('the body must be a JSON object: {"name", "text", "type": "secret_text"}', code="invalid_json")
    name, kind, text = raw.get("name"), raw.get("type", "secret_text"), raw.get("text")
    if not isinstance(name, str) or not SECRET_NAME.fullmatch(name):
        raise BadRequest(
            f"invalid secret name {str(name)[:80]!r}: use a JavaScript identifier of at most 64 characters", code="invalid_secret_name"
        )
    if kind not in SECRET_TYPES:
        raise BadRequest(
            f"unsupported secret type {str(kind)[:40]!r} (supported: {', '.join(SECRET_TYPES)})", code="invalid_secret_type"
        )
    if not isinstance(text, str):
        raise BadRequest("a secret_text secret needs its value as a string 'text'", code="invalid_secret_text")
    if len(text.encode("utf-8")) > MAX_SECRET_BYTES:
        raise PayloadTooLarge(f"a secret's value may hold at most {MAX_SECRET_BYTES} bytes of UTF-8", code="secret_too_large", limit=MAX_SECRET_BYTES)
    return name, kind, text


def secret_not_found(name: str) -> NotFound:
    return NotFound(f"secret {name[:80]!r} not found", code="secret_not_found")


class SecretService:
    def __init__(self, db: Database, sealer: Sealer, scripts: ScriptService) -> None:
        self._db = db
        self._sealer = sealer
        self._scripts = scripts

    async def list(self, namespace: str, script: str) -> list[dict[str, str]]:
        async with self._db.connect() as conn:
            await self._scripts.require(conn, namespace, script)
            return (await read_secret_set(conn, namespace, script)).described()

    async def put(self, namespace: str, script: str, body: Any) -> tuple[dict[str, Any], bool]:
        """Set a secret (new or replaced) from `{"name", "text", "type"}` and deploy the version that has it."""
        name, kind, text = parse_secret(body)
        plaintext = text.encode("utf-8")

        async def change(conn: AsyncConnection, current: SecretSet, bindings: list[dict[str, Any]]) -> bool:
            if any(binding.get("name") == name for binding in bindings):
                raise binding_conflict(name)
            current.check_key(self._sealer, namespace, script)
            exists = name in current.names
            if not exists and len(current) >= MAX_SECRETS:
                raise BadRequest(f"a script may have at most {MAX_SECRETS} secrets", code="too_many_secrets", limit=MAX_SECRETS)
            values = {"type": kind, "ciphertext": self._sealer.seal(plaintext, secret_context(namespace, script, name)), "created_at": now_ms()}
            if exists:
                await conn.execute(update(secrets_table).where(*_key(namespace, script, name)).values(**values))
            else:
                await conn.execute(insert(secrets_table).values(namespace=namespace, script=script, name=name, **values))
            return not exists

        created, version_id = await self._scripts.change_secrets(namespace, script, change)
        return {"name": name, "type": kind, "version_id": version_id}, created

    async def delete(self, namespace: str, script: str, name: str) -> dict[str, Any]:
        """Delete a secret and deploy the version without it."""

        async def change(conn: AsyncConnection, current: SecretSet, _bindings: list[dict[str, Any]]) -> None:
            if name not in current.names:
                raise secret_not_found(name)
            await conn.execute(delete(secrets_table).where(*_key(namespace, script, name)))

        _, version_id = await self._scripts.change_secrets(namespace, script, change)
        return {"name": name, "deleted": True, "version_id": version_id}


def _key(namespace: str, script: str, name: str) -> tuple[Any, ...]:
    return (secrets_table.c.namespace == namespace, secrets_table.c.script == script, secrets_table.c.name == name)


SecretChange = Callable[[AsyncConnection, SecretSet, list[dict[str, Any]]], Awaitable[Any]]
