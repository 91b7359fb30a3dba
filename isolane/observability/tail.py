"""Live tail: each invocation record, as it completes, to whoever watches its script.

Records of this server reach subscribers the moment they are submitted (`RecordStore`
listeners). Records written by other servers sharing the store are found by polling it,
only while someone watches, by the time they were stored (`stored_at`) and the server that
stored them (`instance`): ids sort by start, and a long invocation completes after shorter
ones that started later.

A subscriber never slows an invocation: each has a buffer bounded in records (BUFFER) and
in bytes (BUFFER_BYTES), and all buffers of a server together are bounded in bytes, per
namespace (NAMESPACE_BYTES) and in all (SERVER_BYTES); what does not fit is dropped and
counted, and the subscriber is told how many before its next record. A record is encoded
to JSON once, when the first subscriber takes it, and then held only as those bytes,
shared by every buffer that holds it; the server's figures count it once.

A subscription ends when its namespace is deleted: at once on the server that deleted it
(`end_namespace`), at the next poll on the others (the namespace is gone, or is another one
created since under the same name).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import and_, or_, select

from isolane.clock import now_ms
from isolane.errors import TooManyRequests
from isolane.observability.records import CREATION_SKEW_MS, InvocationRecord, RecordStore, record_view
from isolane.store.database import Database
from isolane.store.schema import invocations, namespaces

log = logging.getLogger(__name__)

MIB = 1024 * 1024
BUFFER = 256  # records held per subscriber before it drops
BUFFER_BYTES = 8 * MIB  # bytes of records held per subscriber (a record's logs reach 256 Ki characters)
NAMESPACE_BYTES = 16 * MIB  # held for all tails of one namespace on a server: one tenant's slow tails...
SERVER_BYTES = 64 * MIB  # ...take at most a quarter of what all tails of a server may hold
POLL_SECONDS = 0.5  # how often the store is read for other servers' records
POLL_CHUNK = 8  # records read from the store at a time, while some subscriber has room
# Records become visible some time after their `stored_at` (the writer's transaction, and
# clocks of servers that differ a little): each poll looks back this far, skipping the
# ids it has already delivered.
LOOKBACK_MS = 5_000
# Open tails per server: each costs a stream and a copy of every record it takes.
MAX_PER_SCRIPT = 10  # as Cloudflare's limit of simultaneous tails per Worker
MAX_PER_NAMESPACE = 50


class SharedView:
    """A record as the API shows it, shared by every subscriber of its script: encoded to
    JSON once, when first taken or sent, however many streams send it; from then on only
    the bytes are kept (the record's Python objects are several times their size)."""

    __slots__ = ("id", "namespace", "outcome", "started_at", "holders", "_view", "_json")

    def __init__(self, view: dict[str, Any], started_at: int) -> None:
        self.id: str = view["id"]
        self.namespace: str = view["namespace"]
        self.outcome: str = view["outcome"]
        self.started_at = started_at  # epoch ms
        self.holders = 0  # buffers holding it (TailBudget)
        self._view: dict[str, Any] | None = view
        self._json: bytes | None = None

    def json(self) -> bytes:
        if self._json is None:
            self._json = orjson.dumps(self._view)
            self._view = None
        return self._json

    @property
    def size(self) -> int:
        return len(self.json())


class TailBudget:
    """The bytes of records held in a server's tail buffers, per namespace and in all. A
    record counts once however many buffers hold it: they share its bytes."""

    def __init__(self, server_bytes: int = SERVER_BYTES, namespace_bytes: int = NAMESPACE_BYTES) -> None:
        self.server_bytes = server_bytes
        self.namespace_bytes = namespace_bytes
        self.held = 0
        self._by_namespace: dict[str, int] = {}

    def full(self, namespace: str) -> bool:
        """Whether nothing more of `namespace` fits (for the poller: read no further)."""
        return self.held >= self.server_bytes or self._by_namespace.get(namespace, 0) >= self.namespace_bytes

    def take(self, record: SharedView) -> bool:
        """Count `record` as held by one more buffer; False (nothing counted) if it does not fit."""
        if record.holders == 0:
            size = record.size
            in_namespace = self._by_namespace.get(record.namespace, 0)
            if self.held + size > self.server_bytes or in_namespace + size > self.namespace_bytes:
                return False
            self.held += size
            self._by_namespace[record.namespace] = in_namespace + size
        record.holders += 1
        return True

    def release(self, record: SharedView) -> None:
        record.holders -= 1
        if record.holders == 0:
            size = record.size
            self.held -= size
            left = self._by_namespace[record.namespace] - size
            if left:
                self._by_namespace[record.namespace] = left
            else:
                del self._by_namespace[record.namespace]


@dataclass(slots=True, frozen=True)
class TailEvent:
    kind: str  # "invocation" | "dropped"
    payload: bytes  # the event's data, JSON (an invocation's is shared by all streams)
    id: str | None = None  # the record's id, for invocations

    def json(self) -> bytes:
        return self.payload

    @property
    def data(self) -> dict[str, Any]:
        return orjson.loads(self.payload)


class TailSubscription:
    """One watcher of one script: an async iterator of `TailEvent`s."""

    def __init__(
        self,
        namespace: str,
        script: str,
        outcomes: frozenset[str] | None,
        sample: float,
        *,
        budget: TailBudget | None = None,
        created_at: int | None = None,
    ) -> None:
        self.namespace = namespace
        self.script = script
        self.outcomes = outcomes
        self.sample = sample
        # When the watched namespace was created: records of a deleted namespace of the
        # same name are not its, and another namespace under the name ends the subscription.
        self.created_at = created_at
        self.dropped = 0  # in all
        self.bytes = 0  # held in the buffer
        self._unreported = 0  # dropped since the last `dropped` event
        self._budget = budget if budget is not None else TailBudget()
        self._buffer: deque[SharedView] = deque()
        self._ready = asyncio.Event()
        self._on_close: list[Callable[[], object]] = []
        self.closed = False

    def wants(self, outcome: str) -> bool:
        """Whether a record of `outcome` is for this subscriber (its filter, its sample)."""
        if self.outcomes is not None and outcome not in self.outcomes:
            return False
        return self.sample >= 1.0 or random.random() < self.sample

    def has_room(self) -> bool:
        return len(self._buffer) < BUFFER and self.bytes < BUFFER_BYTES and not self._budget.full(self.namespace)

    def offer(self, record: SharedView) -> None:
        """Take a record if it matches and fits; never blocks."""
        if self.closed or (self.created_at is not None and record.started_at < self.created_at - CREATION_SKEW_MS):
            return
        if not self.wants(record.outcome):
            return
        if len(self._buffer) >= BUFFER:  # full by count: dropped without encoding the record
            self.overflow()
            return
        if self.bytes + record.size > BUFFER_BYTES or not self._budget.take(record):
            self.overflow()
            return
        self._buffer.append(record)
        self.bytes += record.size
        self._ready.set()

    def overflow(self) -> None:
        """Count a record that did not fit."""
        self.dropped += 1
        self._unreported += 1
        self._ready.set()

    def close(self) -> None:
        """End the subscription at once: what its buffer holds is let go, unsent."""
        self.closed = True
        while self._buffer:
            self._release(self._buffer.popleft())
        self._ready.set()
        for callback in self._on_close:
            callback()
        self._on_close.clear()

    def _release(self, record: SharedView) -> None:
        self.bytes -= record.size
        self._budget.release(record)

    def on_close(self, callback: Callable[[], object]) -> None:
        """Call `callback` when the subscription closes (e.g. to stop a watcher task)."""
        self._on_close.append(callback)

    async def next(self, timeout: float | None = None) -> TailEvent | None:
        """The next event; None when `timeout` passes first or the subscription closed."""
        while not self._buffer and not self._unreported:
            if self.closed:
                return None
            self._ready.clear()
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                return None
        if self.closed:
            return None
        if self._unreported:
            event = TailEvent("dropped", orjson.dumps({"dropped": self._unreported, "total_dropped": self.dropped}))
            self._unreported = 0
            return event
        record = self._buffer.popleft()
        self._release(record)
        return TailEvent("invocation", record.json(), record.id)

    def __aiter__(self) -> AsyncIterator[TailEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[TailEvent]:
        while (event := await self.next()) is not None:
            yield event


class TailHub:
    """Subscriptions by script, fed by this server's records and the store's."""

    def __init__(self, db: Database, records: RecordStore, poll_seconds: float = POLL_SECONDS) -> None:
        self._db = db
        self._instance = records.instance
        self._poll_seconds = poll_seconds
        self._watched: dict[tuple[str, str], set[TailSubscription]] = {}
        self._poller: asyncio.Task[None] | None = None
        self._closed = False
        self._dropped_by_ended = 0  # records dropped by subscriptions that have ended
        self.budget = TailBudget()
        records.listeners.append(self.publish)

    @property
    def subscribers(self) -> int:
        return sum(len(subscriptions) for subscriptions in self._watched.values())

    @property
    def dropped(self) -> int:
        """Records dropped for slow subscribers since the server started (for /metrics)."""
        live = sum(subscription.dropped for subscriptions in self._watched.values() for subscription in subscriptions)
        return self._dropped_by_ended + live

    @property
    def buffered_bytes(self) -> int:
        """Bytes of records held for subscribers now, each record counted once (for /metrics)."""
        return self.budget.held

    def publish(self, record: InvocationRecord) -> None:
        subscriptions = self._watched.get((record.namespace, record.script))
        if subscriptions:
            shared = SharedView(record.view(), record.started_at)
            for subscription in list(subscriptions):
                subscription.offer(shared)

    def admit(self, namespace: str, script: str) -> None:
        """Refuse (429) a new tail past the per-script or per-namespace limit of this server."""
        on_script = len(self._watched.get((namespace, script), ()))
        on_namespace = sum(len(subs) for (ns, _), subs in self._watched.items() if ns == namespace)
        if on_script >= MAX_PER_SCRIPT or on_namespace >= MAX_PER_NAMESPACE:
            limit, what = (MAX_PER_SCRIPT, "script") if on_script >= MAX_PER_SCRIPT else (MAX_PER_NAMESPACE, "namespace")
            raise TooManyRequests(
                f"this {what} already has {limit} live tails on this server: close one (or use sample=) and retry",
                code="too_many_tails",
                retry_after=5,
                limit=limit,
            )

    @asynccontextmanager
    async def subscribe(
        self, namespace: str, script: str, *, outcomes: frozenset[str] | None = None, sample: float = 1.0
    ) -> AsyncIterator[TailSubscription]:
        created_at = await self._created_at(namespace)
        subscription = TailSubscription(namespace, script, outcomes, sample, budget=self.budget, created_at=created_at)
        if self._closed or created_at is None:  # stopping, or the namespace was deleted meanwhile
            subscription.close()
        key = (namespace, script)
        self._watched.setdefault(key, set()).add(subscription)
        if self._poller is None and not self._closed:
            # A context of its own: not the request's that happened to start it (request id).
            self._poller = asyncio.create_task(self._poll(), name="tail-poller", context=contextvars.Context())
        try:
            yield subscription
        finally:
            subscription.close()
            watchers = self._watched.get(key)
            if watchers is not None:
                self._dropped_by_ended += subscription.dropped
                watchers.discard(subscription)
                if not watchers:
                    del self._watched[key]

    def end_namespace(self, namespace: str) -> None:
        """End every subscription to the namespace's scripts (it was deleted): at once."""
        for (ns, _), subscriptions in list(self._watched.items()):
            if ns == namespace:
                for subscription in list(subscriptions):
                    subscription.close()

    def close(self) -> None:
        """End every subscription (the server is stopping): open streams finish at once."""
        self._closed = True
        for subscriptions in list(self._watched.values()):
            for subscription in list(subscriptions):
                subscription.close()
        if self._poller is not None:
            self._poller.cancel()
            self._poller = None

    async def _created_at(self, namespace: str) -> int | None:
        async with self._db.connect() as conn:
            return (await conn.execute(select(namespaces.c.created_at).where(namespaces.c.name == namespace))).scalar()

    async def _poll(self) -> None:
        delivered: dict[str, int] = {}  # ids of other servers' records already seen -> stored_at
        since = now_ms() - LOOKBACK_MS  # by the store's `stored_at`: the newest seen, less the look-back
        try:
            while self._watched:
                await asyncio.sleep(self._poll_seconds)
                try:
                    await self._end_deleted()
                    since = await self._poll_once(delivered, since)
                except Exception:  # noqa: BLE001 - the store may be briefly unavailable
                    log.exception("live tail: could not read records from the store")
        finally:
            self._poller = None

    async def _end_deleted(self) -> None:
        """End the subscriptions whose namespace was deleted (by any server): it is gone,
        or another namespace was created under its name since they began."""
        names = sorted({ns for ns, _ in self._watched})
        if not names:
            return
        async with self._db.connect() as conn:
            rows = await conn.execute(select(namespaces.c.name, namespaces.c.created_at).where(namespaces.c.name.in_(names)))
            created = {row.name: row.created_at for row in rows}
        for (ns, _), subscriptions in list(self._watched.items()):
            for subscription in list(subscriptions):
                if created.get(ns) != subscription.created_at:
                    subscription.close()

    async def _poll_once(self, delivered: dict[str, int], since: int) -> int:
        c = invocations.c
        watched = or_(*(and_(c.namespace == ns, c.script == script) for ns, script in list(self._watched)))
        recent = and_(watched, c.stored_at >= since, c.instance != self._instance)
        async with self._db.connect() as conn:
            query = select(c.id, c.stored_at, c.namespace, c.script, c.outcome).where(recent).order_by(c.stored_at, c.id)
            keys = (await conn.execute(query)).all()
            by_script: dict[tuple[str, str], list[Any]] = {}
            for key in keys:
                if key.id not in delivered:
                    by_script.setdefault((key.namespace, key.script), []).append(key)
            for script, found in by_script.items():
                await self._deliver(conn, script, found)
        for key in keys:
            delivered.setdefault(key.id, key.stored_at)
        newest = max((key.stored_at for key in keys), default=since + LOOKBACK_MS)
        since = max(since, newest - LOOKBACK_MS)
        for record_id in [rid for rid, stored in delivered.items() if stored < since]:
            del delivered[record_id]
        return since

    async def _deliver(self, conn: Any, script: tuple[str, str], keys: list[Any]) -> None:
        """Offer a script's new records from the store to its subscribers, the oldest first,
        reading them POLL_CHUNK at a time and only while one of them has room: what nobody
        has room for is counted as dropped without being read (a poll never holds more than
        a chunk of records beyond what the buffers take). At most a buffer's worth per script
        and poll is read, so one busy script never crowds out another's."""
        c = invocations.c
        for start in range(0, len(keys), POLL_CHUNK):
            chunk = keys[start : start + POLL_CHUNK]
            subscriptions = list(self._watched.get(script, ()))
            if start >= BUFFER or not any(subscription.has_room() for subscription in subscriptions):
                for key in keys[start:]:
                    for subscription in subscriptions:
                        if not subscription.closed and subscription.wants(key.outcome):
                            subscription.overflow()
                return
            ids = [key.id for key in chunk]
            rows = (await conn.execute(select(invocations).where(c.id.in_(ids)).order_by(c.stored_at, c.id))).all()
            for row in rows:
                shared = SharedView(record_view(row), row.started_at)
                for subscription in list(self._watched.get(script, ())):
                    subscription.offer(shared)
