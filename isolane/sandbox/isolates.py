"""Where an executor's isolates come from and where they wait between invocations.

- `IsolateFactory`: a thread that keeps a few blank isolates ready (runtime prelude loaded),
  so a cold start only has to load the script.
- `IsolateCache`: idle isolates by (namespace, script, version), least recently used first
  out. An isolate serves one invocation at a time, so concurrent invocations of one script
  use several isolates; an isolate never serves a second script.
- `Closer`: a thread that closes isolates, since closing blocks until V8 stops; the executor
  watches it for stalls (ENGINE.md trap 1: `close()` itself may hang).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable

from isolane.runtime import prelude_source
from isolane.sandbox.engine import Isolate

log = logging.getLogger(__name__)

DOORBELL_GLOBAL = "__isolane_doorbell"


def fresh_entropy() -> str:
    """32 bytes from the kernel's CSPRNG, base64, for an isolate's random number generator."""
    return base64.b64encode(os.urandom(32)).decode("ascii")


def prepare_isolate() -> Isolate:
    """A new isolate with the runtime loaded; blocks for a few milliseconds."""
    isolate = Isolate()
    try:
        isolate.install_doorbell(DOORBELL_GLOBAL)
        isolate.eval_blocking(prelude_source())
        isolate.eval_blocking(f'__isolane.seed("{fresh_entropy()}")')
        isolate.eval_blocking("__isolane.warmup()")
    except BaseException:
        isolate.close()
        raise
    return isolate


class IsolateFactory:
    """Keeps `spares` prepared isolates ready; hands them to the event loop on request."""

    def __init__(self, loop: asyncio.AbstractEventLoop, spares: int) -> None:
        self._loop = loop
        self._target = max(spares, 0)
        self._ready: queue.SimpleQueue[Isolate] = queue.SimpleQueue()
        self._ready_count = 0
        self._waiters: queue.SimpleQueue[asyncio.Future[Isolate]] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stopped = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="isolate-factory", daemon=True)
        self._thread.start()

    async def get(self) -> Isolate:
        with self._lock:
            if self._ready_count > 0:
                self._ready_count -= 1
                isolate = self._ready.get_nowait()
                self._wake.set()  # make a replacement
                return isolate
        future: asyncio.Future[Isolate] = self._loop.create_future()
        self._waiters.put(future)
        self._wake.set()
        return await future

    def _run(self) -> None:
        while not self._stopped:
            self._wake.wait(0.5)
            self._wake.clear()
            while not self._stopped:
                waiter = None
                try:
                    waiter = self._waiters.get_nowait()
                except queue.Empty:
                    with self._lock:
                        if self._ready_count >= self._target:
                            break
                try:
                    isolate = prepare_isolate()
                except Exception as exc:  # noqa: BLE001 - reported to whoever waits
                    log.exception("could not prepare an isolate")
                    if waiter is not None:
                        self._loop.call_soon_threadsafe(_fail, waiter, exc)
                    time.sleep(0.1)
                    continue
                if waiter is not None:
                    self._loop.call_soon_threadsafe(_deliver, waiter, isolate)
                else:
                    with self._lock:
                        self._ready.put(isolate)
                        self._ready_count += 1

    def stop(self) -> list[Isolate]:
        """Stop making isolates; returns the spares, for the caller to close."""
        self._stopped = True
        self._wake.set()
        self._thread.join(timeout=5)
        spares = []
        while True:
            try:
                spares.append(self._ready.get_nowait())
            except queue.Empty:
                return spares

    @property
    def spare_count(self) -> int:
        return self._ready_count


def _deliver(future: asyncio.Future[Isolate], isolate: Isolate) -> None:
    if future.done():  # the waiter gave up: nobody will use it
        isolate.close()
    else:
        future.set_result(isolate)


def _fail(future: asyncio.Future[Isolate], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


class IsolateCache:
    """Idle isolates by script version, evicting the least recently used past `capacity`."""

    def __init__(self, capacity: int, closer: Closer) -> None:
        self._capacity = max(capacity, 0)
        self._closer = closer
        self._idle: OrderedDict[Hashable, list[tuple[Isolate, int]]] = OrderedDict()
        self._count = 0
        self.evictions = 0

    def take(self, key: Hashable) -> tuple[Isolate, int] | None:
        """An idle isolate for `key` and its CPU reading when it went idle, if any."""
        stack = self._idle.get(key)
        if not stack:
            return None
        entry = stack.pop()
        self._count -= 1
        if stack:
            self._idle.move_to_end(key)
        else:
            del self._idle[key]
        return entry

    def put(self, key: Hashable, isolate: Isolate) -> None:
        self._idle.setdefault(key, []).append((isolate, isolate.cpu_ns()))
        self._idle.move_to_end(key)
        self._count += 1
        while self._count > self._capacity:
            oldest_key, stack = next(iter(self._idle.items()))
            victim, _ = stack.pop(0)
            if not stack:
                del self._idle[oldest_key]
            self._count -= 1
            self.evictions += 1
            self._closer.close(victim)

    def drain(self) -> list[Isolate]:
        isolates = [isolate for stack in self._idle.values() for isolate, _ in stack]
        self._idle.clear()
        self._count = 0
        return isolates

    def __len__(self) -> int:
        return self._count


class Closer:
    """Closes isolates on its own thread and reports how long the current close has run."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Isolate | None] = queue.SimpleQueue()
        self._busy_since: float | None = None
        self._thread = threading.Thread(target=self._run, name="isolate-closer", daemon=True)
        self._thread.start()

    def close(self, isolate: Isolate) -> None:
        self._queue.put(isolate)

    def stalled_for(self) -> float:
        """Seconds the close in progress has been running (0 when idle)."""
        since = self._busy_since
        return 0.0 if since is None else time.monotonic() - since

    def _run(self) -> None:
        while True:
            isolate = self._queue.get()
            if isolate is None:
                return
            self._busy_since = time.monotonic()
            try:
                isolate.close()
            except Exception:  # noqa: BLE001
                log.exception("closing an isolate failed")
            finally:
                self._busy_since = None

    def stop(self, timeout: float = 5.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)
