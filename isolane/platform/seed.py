"""The seed contract of the proof of concept: upload plain JavaScript, execute it by id.

A seed upload is a script in the `default` namespace whose name and version are both the
id, which is derived from the content: the first 32 hex digits of its SHA-256.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from isolane.clock import now_ms
from isolane.errors import BadRequest, NotFound
from isolane.platform.namespaces import DEFAULT_NAMESPACE
from isolane.store.blobs import BlobStore, digest_of
from isolane.store.database import Database
from isolane.store.schema import scripts, versions

SEED_KIND = "classic"
ID_LENGTH = 32
KNOWN_SCRIPTS_CACHED = 10_000


@dataclass(frozen=True, slots=True)
class SeedScript:
    id: str
    blob: str


def seed_id(code: bytes) -> str:
    return digest_of(code)[:ID_LENGTH]


def decode_source(body: bytes) -> str:
    try:
        source = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the script is not valid UTF-8 (byte {exc.start})", code="invalid_encoding") from exc
    if not source.strip():
        raise BadRequest("the script is empty", code="empty_script")
    if "\x00" in source:
        raise BadRequest("the script contains a NUL character", code="invalid_encoding")
    return source


class SeedService:
    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self._db = db
        self._blobs = blobs
        # id -> script: ids are content hashes, so an entry can never go stale.
        self._known: dict[str, SeedScript] = {}

    async def store(self, body: bytes) -> SeedScript:
        """Keep `body` (already checked) and return its id; storing it twice is harmless."""
        blob = await self._blobs.put(body)
        script_id = blob[:ID_LENGTH]
        now = now_ms()
        try:
            async with self._db.transaction() as conn:
                exists = (await conn.execute(select(versions.c.id).where(versions.c.id == script_id))).first()
                if exists is None:
                    await conn.execute(
                        insert(scripts).values(
                            namespace=DEFAULT_NAMESPACE,
                            name=script_id,
                            kind=SEED_KIND,
                            current_version=script_id,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                    await conn.execute(
                        insert(versions).values(
                            id=script_id,
                            namespace=DEFAULT_NAMESPACE,
                            script=script_id,
                            kind=SEED_KIND,
                            blob=blob,
                            size=len(body),
                            metadata="{}",
                            created_at=now,
                        )
                    )
        except IntegrityError:
            pass  # a concurrent upload of the same code got there first
        return SeedScript(script_id, blob)

    async def find(self, script_id: str) -> SeedScript:
        known = self._known.get(script_id)
        if known is not None:
            return known
        async with self._db.connect() as conn:
            row = (
                await conn.execute(
                    select(versions.c.id, versions.c.blob).where(
                        versions.c.id == script_id,
                        versions.c.namespace == DEFAULT_NAMESPACE,
                        versions.c.kind == SEED_KIND,
                    )
                )
            ).first()
        if row is None:
            raise NotFound(f"no script with id {script_id[:80]!r}", code="script_not_found")
        if len(self._known) >= KNOWN_SCRIPTS_CACHED:
            self._known.clear()
        script = self._known[script_id] = SeedScript(row.id, row.blob)
        return script

    async def source(self, script: SeedScript) -> str:
        return (await self._blobs.get(script.blob)).decode("utf-8")

    def location(self, script: SeedScript) -> str:
        return self._blobs.location(script.blob)
