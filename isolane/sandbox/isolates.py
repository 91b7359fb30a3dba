"""Where an executor's isolates come from and where they wait between invocations.

- `IsolateFactory`: threads that keep a few blank isolates ready (runtime prelude loaded),
  so a cold start only has to load the script; several prepare at once, so a burst of cold
  starts does not queue behind one thread.
- `IsolateCache`: idle isolates by (namespace, script, version), least recently used first
  out. An isolate serves one invocation at a time, so concurrent invocations of one script
  use several isolates; an isolate never serves a second script.
- `Closer`: threads that close isolates, since closing blocks until V8 stops. An isolate
  stuck in work that ignores termination (a huge `JSON.parse`, `normalize()`) stalls its
  close for seconds; the next closes go to another thread, and the executor watches the
  stall (`stalled_for`) to retire itself (ENGINE.md trap 1: `close()` itself may hang).
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
from collections.abc import Callable, Hashable

from isolane.runtime import prelude_source
from isolane.sandbox.engine import Isolate

log = logging.getLogger(__name__)

DOORBELL_GLOBAL = "__isolane_doorbell"
PREPARERS = 2  # threads preparing isolates (V8 work: more than the cores gains nothing)
MAX_CLOSERS = 8  # threads closing isolates: stalled closes each hold one


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
        self._threads = [threading.Thread(target=self._run, name=f"isolate-factory-{n}", daemon=True) for n in range(PREPARERS)]
        for thread in self._threads:
            thread.start()

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
        for thread in self._threads:
            thread.join(timeout=5)
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

    def evict_heaviest(self, at_least: int) -> int:
        """Close idle isolates holding the most memory outside their heaps (ArrayBuffers,
        wasm) until `at_least` bytes are freed or none holds any; returns the bytes freed."""
        held = sorted(
            ((isolate.external_bytes(), key, isolate) for key, stack in self._idle.items() for isolate, _ in stack),
            key=lambda entry: entry[0],
            reverse=True,
        )
        freed = 0
        for size, key, isolate in held:
            if freed >= at_least or size == 0:
                break
            stack = self._idle[key]
            stack[:] = [entry for entry in stack if entry[0] is not isolate]
            if not stack:
                del self._idle[key]
            self._count -= 1
            self.evictions += 1
            self._closer.close(isolate)
            freed += size
        return freed

    def drain(self) -> list[Isolate]:
        isolates = [isolate for stack in self._idle.values() for isolate, _ in stack]
        self._idle.clear()
        self._count = 0
        return isolates

    def __len__(self) -> int:
        return self._count


class Closer:
    """Closes isolates on threads of its own and reports how long the oldest close in
    progress has run. A close that stalls keeps its thread; later closes go to another."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Isolate, Callable[[Isolate], None] | None] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._busy: dict[int, tuple[float, Isolate]] = {}  # thread ident -> (since, isolate)
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._stopped = False

    def close(self, isolate: Isolate, on_closed: Callable[[Isolate], None] | None = None) -> None:
        """Close `isolate` soon; `on_closed(isolate)` runs on the closing thread afterwards."""
        self._queue.put((isolate, on_closed))
        with self._lock:
            if self._idle == 0 and len(self._threads) < MAX_CLOSERS and not self._stopped:
                thread = threading.Thread(target=self._run, name=f"isolate-closer-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                self._idle += 1
                thread.start()

    def stalled_for(self) -> float:
        """Seconds the oldest close in progress has been running (0 when none is)."""
        with self._lock:
            oldest = min((since for since, _ in self._busy.values()), default=None)
        return 0.0 if oldest is None else time.monotonic() - oldest

    def closing(self) -> list[Isolate]:
        """The isolates whose close is in progress (their threads may still run)."""
        with self._lock:
            return [isolate for _, isolate in self._busy.values()]

    def _run(self) -> None:
        me = threading.get_ident()
        while True:
            item = self._queue.get()
            if item is None:
                return
            isolate, on_closed = item
            with self._lock:
                self._idle -= 1
                self._busy[me] = (time.monotonic(), isolate)
            try:
                isolate.close()
                if on_closed is not None:
                    on_closed(isolate)
            except Exception:  # noqa: BLE001
                log.exception("closing an isolate failed")
            finally:
                with self._lock:
                    del self._busy[me]
                    self._idle += 1

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            self._stopped = True
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0))
