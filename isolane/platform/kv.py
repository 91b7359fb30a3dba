"""Workers KV: key-value namespaces owned by a tenant namespace, and their values.

One service answers both doors: the REST API (`server/routes/kv.py`) and the `kv.*` host
calls of a script's `kv_namespace` binding (`platform/kv_calls.py`); both go through the
same checks, so a limit holds whichever way a value arrives.

Values expire at `expiration` (epoch seconds). An expired key is never returned: reads
filter on the clock and delete what they find expired; writes sweep the namespace's expired
keys (an indexed range), so nothing expired accumulates where anything is still written.
Keys are listed in the order of their UTF-8 bytes (code point order); a list cursor is the
last key of the page, encoded, and so stays valid while keys come and go.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time
from typing import Any

import orjson
from sqlalchemy import and_, delete, insert, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from isolane.clock import now_ms, to_iso
from isolane.errors import BadRequest, Conflict, NotFound, PayloadTooLarge
from isolane.platform.quotas import check_kv_quota, lock
from isolane.store.database import Database
from isolane.store.schema import kv_namespaces, kv_values

KV_BINDING = "kv_namespace"
MAX_KEY_BYTES = 512
MAX_VALUE_BYTES = 25 * 1024 * 1024
MAX_METADATA_BYTES = 1024
MIN_TTL_SECONDS = 60
MAX_EXPIRATION = 2**53 - 1  # JavaScript's safe integers: the binding reads it back as a number
MAX_LIST_LIMIT = 1000
MAX_TITLE_LENGTH = 255
DEFAULT_NAMESPACE_PAGE = 100
_KV_ID = re.compile(r"[0-9a-f]{32}")
_DIGITS = re.compile(r"-?[0-9]{1,20}")
_TITLE_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f]")
_CURSOR = re.compile(r"[A-Za-z0-9_-]{1,2048}")


# ---- errors and checks (shared by the REST API and the binding)


def kv_namespace_not_found(kv_id: Any) -> NotFound:
    return NotFound(f"KV namespace {str(kv_id)[:80]!r} not found", code="kv_namespace_not_found")


def key_not_found(key: str) -> NotFound:
    return NotFound(f"key {key[:80]!r} not found", code="key_not_found")


def check_key(key: Any) -> str:
    """A key: a non-empty string of at most 512 UTF-8 bytes, neither "." nor "..": the
    rules of Workers KV, where keys also appear in URLs."""
    if not isinstance(key, str):
        raise BadRequest("a key must be a string", code="invalid_key")
    if key in ("", ".", ".."):
        raise BadRequest(f"invalid key {key!r}: a key cannot be empty, '.' or '..'", code="invalid_key")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise BadRequest("a key must be valid Unicode text (no lone surrogates)", code="invalid_key") from exc
    if size > MAX_KEY_BYTES:
        raise BadRequest(f"the key is {size} bytes of UTF-8, over the limit of {MAX_KEY_BYTES}", code="key_too_long", limit=MAX_KEY_BYTES)
    return key


def check_value_size(size: int) -> None:
    if size > MAX_VALUE_BYTES:
        raise PayloadTooLarge(f"the value is {size} bytes, over the limit of {MAX_VALUE_BYTES}", code="value_too_large", limit=MAX_VALUE_BYTES)


def encode_metadata(metadata: Any) -> str | None:
    """Metadata as stored: compact JSON of at most 1024 bytes; None (JSON null) means none."""
    if metadata is None:
        return None
    try:
        text = orjson.dumps(metadata)
    except TypeError as exc:
        raise BadRequest(f"the metadata cannot be serialized as JSON: {exc}", code="invalid_metadata") from exc
    if len(text) > MAX_METADATA_BYTES:
        raise BadRequest(
            f"the metadata is {len(text)} bytes of JSON, over the limit of {MAX_METADATA_BYTES}", code="metadata_too_large", limit=MAX_METADATA_BYTES
        )
    return text.decode("utf-8")


def parse_metadata(text: str | None) -> str | None:
    """Metadata given as JSON text (a query parameter, or what the binding serialized)."""
    if text is None:
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the metadata is not valid JSON: {exc}", code="invalid_metadata") from exc
    return encode_metadata(value)


def _integer(value: Any, what: str, code: str, unit: str = " number of seconds") -> int | None:
    """An integer given as a number or as decimal digits (a query parameter)."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{what} must be an integer{unit}", code=code)
    return value


def resolve_expiration(expiration: Any = None, ttl: Any = None, *, ttl_name: str = "expiration_ttl") -> int | None:
    """When a value written now expires (epoch seconds), or None for never.

    `ttl` (seconds from now) must be at least 60, as in Workers KV; when both are given it
    wins, as in Cloudflare's API. An absolute `expiration` may lie in the past (the key is
    gone at once): there is no edge cache here that would need the 60 seconds' notice."""
    now = now_seconds()
    seconds = _integer(ttl, ttl_name, "invalid_expiration_ttl")
    if seconds is not None:
        if seconds < MIN_TTL_SECONDS:
            raise BadRequest(f"{ttl_name} must be at least {MIN_TTL_SECONDS} seconds, got {seconds}", code="invalid_expiration_ttl")
        if now + seconds > MAX_EXPIRATION:
            raise BadRequest(f"{ttl_name} {seconds} is too large", code="invalid_expiration_ttl")
        return now + seconds
    at = _integer(expiration, "expiration", "invalid_expiration")
    if at is None:
        return None
    if not 0 < at <= MAX_EXPIRATION:
        raise BadRequest(f"expiration must be a positive number of seconds since the epoch, got {at}", code="invalid_expiration")
    return at


def check_title(title: Any) -> str:
    if not isinstance(title, str) or not title.strip():
        raise BadRequest("a KV namespace needs a non-empty string title", code="invalid_title")
    if len(title) > MAX_TITLE_LENGTH or _TITLE_FORBIDDEN.search(title):
        raise BadRequest(f"a title has at most {MAX_TITLE_LENGTH} characters and no control characters", code="invalid_title")
    return title


def encode_cursor(last: str) -> str:
    return base64.urlsafe_b64encode(last.encode("utf-8")).decode("ascii").rstrip("=")


def invalid_cursor() -> BadRequest:
    return BadRequest("invalid cursor: pass back the cursor of the previous page", code="invalid_cursor")


def decode_cursor(cursor: Any) -> str:
    if not isinstance(cursor, str) or not _CURSOR.fullmatch(cursor):
        raise invalid_cursor()
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise invalid_cursor() from exc


def check_limit(limit: Any) -> int:
    value = _integer(limit, "limit", "invalid_limit", unit=f" between 1 and {MAX_LIST_LIMIT}")
    if value is None:
        return MAX_LIST_LIMIT
    if not 1 <= value <= MAX_LIST_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIST_LIMIT}, got {value}", code="invalid_limit")
    return value


def _successor(prefix: str) -> str | None:
    """The least string above every string starting with `prefix` (code point order), or
    None when there is none: the exclusive upper bound of a prefix range."""
    chars = list(prefix)
    while chars:
        code = ord(chars.pop()) + 1
        if code == 0xD800:
            code = 0xE000  # surrogates are never part of a key
        if code <= 0x10FFFF:
            return "".join(chars) + chr(code)
    return None


def namespace_view(row: Any) -> dict[str, Any]:
    return {"id": row.id, "title": row.title, "namespace": row.namespace, "created_at": to_iso(row.created_at)}


def key_view(row: Any) -> dict[str, Any]:
    return {"name": row.key, "expiration": row.expiration, "metadata": orjson.loads(row.metadata) if row.metadata is not None else None}


def now_seconds() -> int:
    return int(time.time())


def _live(now: int):  # noqa: ANN202 - a SQLAlchemy condition
    return or_(kv_values.c.expiration.is_(None), kv_values.c.expiration > now)


class KVService:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _key_order(self):  # noqa: ANN202 - a SQLAlchemy column
        """Keys compared by code point (= UTF-8 bytes): SQLite's default; PostgreSQL's "C"."""
        return kv_values.c.key if self._db.is_sqlite else kv_values.c.key.collate("C")

    # ---- namespaces

    async def create_namespace(self, namespace: str, title: Any) -> dict[str, Any]:
        title = check_title(title)
        row = {"id": secrets.token_hex(16), "namespace": namespace, "title": title, "created_at": now_ms()}
        try:
            async with self._db.transaction() as conn:
                policy = await lock(conn, namespace)  # so concurrent creations count one by one
                if policy is None:
                    raise NotFound(f"namespace {namespace[:80]!r} not found", code="namespace_not_found")
                await check_kv_quota(conn, namespace, policy)
                await conn.execute(insert(kv_namespaces).values(**row))
        except IntegrityError as exc:
            raise Conflict(
                f"namespace {namespace!r} already has a KV namespace titled {title[:80]!r}", code="kv_namespace_title_taken"
            ) from exc
        return namespace_view(_Row(row))

    async def find_namespace(self, kv_id: Any) -> dict[str, Any] | None:
        if not isinstance(kv_id, str) or not _KV_ID.fullmatch(kv_id):
            return None
        async with self._db.connect() as conn:
            row = (await conn.execute(select(kv_namespaces).where(kv_namespaces.c.id == kv_id))).first()
        return namespace_view(row) if row is not None else None

    async def list_namespaces(self, only: str | None, limit: int | None, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """Ordered by (namespace, title); the cursor encodes the last pair of the page."""
        page = min(max(limit or DEFAULT_NAMESPACE_PAGE, 1), MAX_LIST_LIMIT)
        query = select(kv_namespaces).order_by(kv_namespaces.c.namespace, kv_namespaces.c.title, kv_namespaces.c.id)
        if only is not None:
            query = query.where(kv_namespaces.c.namespace == only)
        if cursor is not None:
            try:
                after_ns, after_title = orjson.loads(decode_cursor(cursor))
            except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
                raise invalid_cursor() from exc
            if not isinstance(after_ns, str) or not isinstance(after_title, str):
                raise invalid_cursor()
            query = query.where(
                or_(
                    kv_namespaces.c.namespace > after_ns,
                    and_(kv_namespaces.c.namespace == after_ns, kv_namespaces.c.title > after_title),
                )
            )
        async with self._db.connect() as conn:
            rows = list(await conn.execute(query.limit(page + 1)))
        items = [namespace_view(row) for row in rows[:page]]
        next_cursor = None
        if len(rows) > page:
            next_cursor = encode_cursor(orjson.dumps([items[-1]["namespace"], items[-1]["title"]]).decode())
        return items, next_cursor

    async def delete_namespace(self, kv_id: str) -> None:
        """Deletes the namespace with its values. Scripts still bound to it get an error
        from each KV call until they are uploaded with other bindings."""
        async with self._db.transaction() as conn:
            await conn.execute(delete(kv_values).where(kv_values.c.kv_id == kv_id))
            result = await conn.execute(delete(kv_namespaces).where(kv_namespaces.c.id == kv_id))
        if result.rowcount == 0:
            raise kv_namespace_not_found(kv_id)

    async def check_bindings(self, tenant: str, bindings: list[dict[str, Any]]) -> None:
        """Every kv_namespace binding of an upload must name a KV namespace of `tenant`."""
        for binding in bindings:
            if binding.get("type") != KV_BINDING:
                continue
            found = await self.find_namespace(binding.get("namespace_id"))
            if found is None or found["namespace"] != tenant:
                raise BadRequest(
                    f"binding {binding['name']!r}: KV namespace {str(binding.get('namespace_id'))[:80]!r} not found in namespace {tenant!r}",
                    code="kv_namespace_not_found",
                    binding=binding["name"],
                )

    # ---- values

    async def put(self, kv_id: str, key: str, value: bytes, expiration: int | None, metadata: str | None) -> dict[str, Any]:
        check_key(key)
        check_value_size(len(value))
        if metadata is not None and len(metadata.encode("utf-8")) > MAX_METADATA_BYTES:
            raise BadRequest(f"the metadata is over the limit of {MAX_METADATA_BYTES} bytes", code="metadata_too_large")
        now = now_seconds()
        row = {"kv_id": kv_id, "key": key, "value": value, "metadata": metadata, "expiration": expiration, "updated_at": now_ms()}
        dialect_insert = sqlite_insert if self._db.is_sqlite else postgresql_insert
        upsert = dialect_insert(kv_values).values(**row)
        upsert = upsert.on_conflict_do_update(
            index_elements=[kv_values.c.kv_id, kv_values.c.key],
            set_={name: upsert.excluded[name] for name in ("value", "metadata", "expiration", "updated_at")},
        )
        try:
            async with self._db.transaction() as conn:
                await conn.execute(delete(kv_values).where(kv_values.c.kv_id == kv_id, kv_values.c.expiration <= now))
                await conn.execute(upsert)
        except IntegrityError as exc:  # the KV namespace was deleted meanwhile
            raise kv_namespace_not_found(kv_id) from exc
        return {"name": key, "expiration": expiration, "metadata": orjson.loads(metadata) if metadata is not None else None}

    async def get(self, kv_id: str, key: str) -> Any | None:
        """The live row (value, metadata, expiration) of `key`, or None."""
        check_key(key)
        async with self._db.connect() as conn:
            row = (
                await conn.execute(
                    select(kv_values.c.key, kv_values.c.value, kv_values.c.metadata, kv_values.c.expiration).where(
                        kv_values.c.kv_id == kv_id, kv_values.c.key == key
                    )
                )
            ).first()
        if row is None:
            return None
        if row.expiration is not None and row.expiration <= now_seconds():
            async with self._db.transaction() as conn:  # lazily: only if it was not rewritten meanwhile
                await conn.execute(
                    delete(kv_values).where(kv_values.c.kv_id == kv_id, kv_values.c.key == key, kv_values.c.expiration == row.expiration)
                )
            return None
        return row

    async def delete(self, kv_id: str, key: str) -> None:
        check_key(key)
        async with self._db.transaction() as conn:
            await conn.execute(delete(kv_values).where(kv_values.c.kv_id == kv_id, kv_values.c.key == key))

    async def list_keys(self, kv_id: str, prefix: str | None, limit: Any, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """A page of live keys in byte order: ([{name, expiration, metadata}], next cursor)."""
        page = check_limit(limit)
        if prefix is not None and not isinstance(prefix, str):
            raise BadRequest("prefix must be a string", code="invalid_prefix")
        key = self._key_order()
        query = select(kv_values.c.key, kv_values.c.metadata, kv_values.c.expiration).where(
            kv_values.c.kv_id == kv_id, _live(now_seconds())
        )
        if prefix:
            query = query.where(key >= prefix)
            upper = _successor(prefix)
            if upper is not None:
                query = query.where(key < upper)
        if cursor is not None:
            query = query.where(key > decode_cursor(cursor))
        async with self._db.connect() as conn:
            rows = list(await conn.execute(query.order_by(key).limit(page + 1)))
        items = [key_view(row) for row in rows[:page]]
        return items, encode_cursor(items[-1]["name"]) if len(rows) > page else None


class _Row:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
