"""Admission: how many invocations run at once, on this server and per namespace.

Past its namespace's cap or the server's, an invocation waits in a bounded queue; the
namespaces with waiters take turns as slots free up, so one namespace's backlog never holds
up another's. A namespace may queue at most as many as it may run. Past the queue's bound,
or after waiting `max_wait` seconds, it is refused: 503 `overloaded` with `Retry-After`.

Every invocation passes here (HTTP requests, cron ticks, the seed API, the dashboard's
invoke form), before it reaches an executor; an invocation made by another one (a
dispatcher's user worker, an outbound worker) runs within the slot of the one that made it,
as waiting for a second slot while holding one could deadlock.

The counts are this server's: each instance of a cluster admits its own share.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from isolane.errors import Unavailable

RETRY_AFTER_SECONDS = 1


class Overloaded(Unavailable):
    code = "overloaded"


class Admission:
    def __init__(self, max_inflight: int, max_per_namespace: int, max_queued: int, max_wait: float) -> None:
        self.max_inflight = max(max_inflight, 1)
        self.max_per_namespace = max(max_per_namespace, 1)
        self.max_queued = max(max_queued, 0)
        self.max_wait = max_wait
        self.running = 0
        self.refused = 0
        self._by_namespace: dict[str, int] = {}
        self._waiting: dict[str, deque[asyncio.Future[None]]] = {}
        self._turns: deque[str] = deque()  # namespaces with waiters, next first
        self.queued = 0

    @asynccontextmanager
    async def slot(self, namespace: str) -> AsyncIterator[None]:
        """Hold one of the server's (and `namespace`'s) invocation slots meanwhile."""
        await self.enter(namespace)
        try:
            yield
        finally:
            self.leave(namespace)

    async def enter(self, namespace: str) -> None:
        """Take a slot (waiting for one, within bounds); `leave` gives it back."""
        if self.running < self.max_inflight and self._by_namespace.get(namespace, 0) < self.max_per_namespace and not self._waiting.get(namespace):
            self._take(namespace)  # the common case: no waiting, no coroutine switch
            return
        await self._wait(namespace)

    def _free_for(self, namespace: str) -> bool:
        return self.running < self.max_inflight and self._by_namespace.get(namespace, 0) < self.max_per_namespace

    async def _wait(self, namespace: str) -> None:
        if self._free_for(namespace) and not self._waiting.get(namespace):
            self._take(namespace)
            return
        queue = self._waiting.get(namespace)
        if self.queued >= self.max_queued or (queue is not None and len(queue) >= self.max_per_namespace):
            self.refused += 1
            raise Overloaded(
                f"too many invocations are running or waiting (namespace {namespace!r}); retry shortly",
                retry_after=RETRY_AFTER_SECONDS,
            )
        if queue is None:
            queue = self._waiting[namespace] = deque()
            self._turns.append(namespace)
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.append(turn)
        self.queued += 1
        try:
            await asyncio.wait_for(asyncio.shield(turn), self.max_wait)
        except (TimeoutError, asyncio.CancelledError) as exc:
            if turn.done() and not turn.cancelled():
                self.leave(namespace)  # admitted just as it gave up: hand the slot on
            else:
                turn.cancel()
                self._forget(namespace, turn)
            if isinstance(exc, asyncio.CancelledError):
                raise
            self.refused += 1
            raise Overloaded(
                f"the invocation waited {self.max_wait:g} s for a slot (namespace {namespace!r}); retry shortly",
                retry_after=RETRY_AFTER_SECONDS,
            ) from None

    def _take(self, namespace: str) -> None:
        self.running += 1
        self._by_namespace[namespace] = self._by_namespace.get(namespace, 0) + 1

    def leave(self, namespace: str) -> None:
        self.running -= 1
        left = self._by_namespace[namespace] - 1
        if left:
            self._by_namespace[namespace] = left
        else:
            del self._by_namespace[namespace]
        self._admit_waiters()

    def _forget(self, namespace: str, turn: asyncio.Future[None]) -> None:
        queue = self._waiting.get(namespace)
        if queue is not None and turn in queue:
            queue.remove(turn)
            self.queued -= 1
            if not queue:
                del self._waiting[namespace]
                self._turns.remove(namespace)

    def _admit_waiters(self) -> None:
        """Give free slots to waiters, one namespace's turn after another."""
        passes = len(self._turns)
        while self._turns and self.running < self.max_inflight and passes > 0:
            namespace = self._turns.popleft()
            queue = self._waiting[namespace]
            if self._by_namespace.get(namespace, 0) < self.max_per_namespace:
                turn = queue.popleft()
                self.queued -= 1
                self._take(namespace)
                turn.set_result(None)
                passes = len(self._turns) + 1
            else:
                passes -= 1
            if queue:
                self._turns.append(namespace)
            else:
                del self._waiting[namespace]
