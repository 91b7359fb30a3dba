"""Live tail: each invocation record, as it completes, to whoever watches its script.

Records of this server reach subscribers the moment they are submitted (`RecordStore`
listeners). Records written by other servers sharing the store are found by polling it,
only while someone watches, by the time they were stored (`stored_at`) and the server that
stored them (`instance`): ids sort by start, and a long invocation completes after shorter
ones that started later.

A subscriber never slows an invocation: each has a bounded buffer, and what does not fit
is dropped and counted; the subscriber is told how many before its next record.

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

BUFFER = 256  # records held per subscriber before it drops
POLL_SECONDS = 0.5  # how often the store is read for other servers' records
# Records become visible some time after their `stored_at` (the writer's transaction, and
# clocks of servers that differ a little): each poll looks back this far, skipping the
# ids it has already delivered.
LOOKBACK_MS = 5_000
# Open tails per server: each costs a stream and a copy of every record it takes.
MAX_PER_SCRIPT = 10  # as Cloudflare's limit of simultaneous tails per Worker
MAX_PER_NAMESPACE = 50


class SharedView:
    """A record as the API shows it, shared by every subscriber of its script; encoded to
    JSON once, when first sent, however many streams send it."""

    __slots__ = ("view", "started_at", "_json")

    def __init__(self, view: dict[str, Any], started_at: int) -> None:
        self.view = view
        self.started_at = started_at  # epoch ms
        self._json: bytes | None = None

    def json(self) -> bytes:
        if self._json is None:
            self._json = orjson.dumps(self.view)
        return self._json


@dataclass(slots=True, frozen=True)
class TailEvent:
    kind: str  # "invocation" | "dropped"
    data: dict[str, Any]
    id: str | None = None  # the record's id, for invocations
    shared: SharedView | None = None  # an invocation's record, encoded once for all streams

    def json(self) -> bytes:
        return self.shared.json() if self.shared is not None else orjson.dumps(self.data)


class TailSubscription:
    """One watcher of one script: an async iterator of `TailEvent`s."""

    def __init__(
        self, namespace: str, script: str, outcomes: frozenset[str] | None, sample: float, created_at: int | None = None
    ) -> None:
        self.namespace = namespace
        self.script = script
        self.outcomes = outcomes
        self.sample = sample
        # When the watched namespace was created: records of a deleted namespace of the
        # same name are not its, and another namespace under the name ends the subscription.
        self.created_at = created_at
        self.dropped = 0  # in all
        self._unreported = 0  # dropped since the last `dropped` event
        self._buffer: deque[SharedView] = deque()
        self._ready = asyncio.Event()
        self._on_close: list[Callable[[], object]] = []
        self.closed = False

    def offer(self, record: SharedView) -> None:
        """Take a record if it matches and fits; never blocks."""
        if self.closed or (self.created_at is not None and record.started_at < self.created_at - CREATION_SKEW_MS):
            return
        if self.outcomes is not None and record.view["outcome"] not in self.outcomes:
            return
        if self.sample < 1.0 and random.random() >= self.sample:
            return
        if len(self._buffer) >= BUFFER:
            self.overflow()
            return
        self._buffer.append(record)
        self._ready.set()

    def overflow(self) -> None:
        """Count a record that did not fit."""
        self.dropped += 1
        self._unreported += 1
        self._ready.set()

    def close(self) -> None:
        """End the subscription at once: what its buffer holds is let go, unsent."""
        self.closed = True
        self._buffer.clear()
        self._ready.set()
        for callback in self._on_close:
            callback()
        self._on_close.clear()

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
            event = TailEvent("dropped", {"dropped": self._unreported, "total_dropped": self.dropped})
            self._unreported = 0
            return event
        record = self._buffer.popleft()
        return TailEvent("invocation", record.view, record.view["id"], record)

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
        records.listeners.append(self.publish)

    @property
    def subscribers(self) -> int:
        return sum(len(subscriptions) for subscriptions in self._watched.values())

    @property
    def dropped(self) -> int:
        """Records dropped for slow subscribers since the server started (for /metrics)."""
        live = sum(subscription.dropped for subscriptions in self._watched.values() for subscription in subscriptions)
        return self._dropped_by_ended + live

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
        subscription = TailSubscription(namespace, script, outcomes, sample, created_at)
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
            query = select(c.id, c.stored_at, c.namespace, c.script).where(recent).order_by(c.stored_at, c.id)
            keys = (await conn.execute(query)).all()
            # At most a buffer's worth per script and poll, the oldest first: the rest of a
            # busy script are dropped (and counted), and never crowd out another's.
            fetch, skip, taken = [], [], {}
            for key in keys:
                if key.id in delivered:
                    continue
                script = (key.namespace, key.script)
                taken[script] = taken.get(script, 0) + 1
                (fetch if taken[script] <= BUFFER else skip).append(key)
            rows = []
            if fetch:
                for start in range(0, len(fetch), BUFFER):
                    ids = [key.id for key in fetch[start : start + BUFFER]]
                    rows += (await conn.execute(select(invocations).where(c.id.in_(ids)).order_by(c.stored_at, c.id))).all()
        for key in skip:
            for subscription in self._watched.get((key.namespace, key.script), ()):
                subscription.overflow()
        for row in rows:
            shared = SharedView(record_view(row), row.started_at)
            for subscription in self._watched.get((row.namespace, row.script), ()):
                subscription.offer(shared)
        for key in (*fetch, *skip):
            delivered[key.id] = key.stored_at
        newest = max((key.stored_at for key in keys), default=since + LOOKBACK_MS)
        since = max(since, newest - LOOKBACK_MS)
        for record_id in [rid for rid, stored in delivered.items() if stored < since]:
            del delivered[record_id]
        return since
