"""Limits enforced from outside JavaScript.

A thread samples every running invocation: the CPU time of its isolate's thread (which
covers microtasks and timer callbacks, ENGINE.md trap 1) plus its host calls while they
run, V8's hard-heap-limit flag, the isolate's memory outside the heap (ArrayBuffers, wasm:
V8's external-memory counter of that isolate) and the wall clock.

The process's resident memory is watched too. Past `rss_limit_bytes`, idle isolates that
hold the most memory outside their heaps are evicted first (the loop does it:
`evict_idle`); if that frees nothing worth having, the running invocation whose isolate
holds the most is ended with exceededMemory, or, when none holds much, the one that used the
most CPU since the last sample among those during which the process grew by at least
`RSS_GROWTH_BYTES` (the one allocating). Memory that was already resident when an
invocation started is never held against it.

The watchdog only decides; the event loop ends the invocation and the `Closer` stops the
isolate. If a close stalls (an isolate stuck in work that ignores termination), the
executor is told to retire (`on_stall`): it takes no new work, lets what runs finish, and
is replaced.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from typing import Protocol

from isolane.sandbox.engine import Isolate
from isolane.sandbox.isolates import Closer
from isolane.sandbox.outcomes import Outcome

TICK_SECONDS = 0.002
CLOSE_STALL_SECONDS = 2.0
RSS_GROWTH_BYTES = 32 * 1024 * 1024
RSS_EVERY_TICKS = 4
RSS_EVERY_TICKS_IDLE = 25
RELIEF_PAUSE_SECONDS = 0.1  # after acting on the ceiling, let closes free memory first


class Watched(Protocol):
    """What the watchdog needs to know of a running invocation."""

    verdict: Outcome | None
    rss_baseline: int  # resident bytes of the process when the invocation started
    isolate: Isolate

    def over_limit(self, now: float, slow_checks: bool = True) -> Outcome | None: ...

    def cpu_ns(self) -> int: ...

    def abort(self, outcome: Outcome) -> None: ...


class Watchdog:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        closer: Closer,
        rss_limit_bytes: int,
        *,
        on_stall: Callable[[str], None],
        evict_idle: Callable[[int], int],
    ) -> None:
        self._rss_limit = rss_limit_bytes
        self._last_cpu: dict[int, int] = {}
        self._rss = rss_bytes()  # the latest sample
        self._loop = loop
        self._closer = closer
        self._on_stall = on_stall
        self._evict_idle = evict_idle
        self._stall_reported = False
        self._relief_after = 0.0
        self._watched: dict[int, Watched] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self._thread.start()

    def watch(self, run: Watched) -> None:
        run.rss_baseline = self._rss
        with self._lock:
            self._watched[id(run)] = run

    def forget(self, run: Watched) -> None:
        with self._lock:
            self._watched.pop(id(run), None)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        tick = 0
        while not self._stopped.wait(TICK_SECONDS):
            tick += 1
            now = time.monotonic()
            with self._lock:
                runs = list(self._watched.values())
            slow_checks = tick % RSS_EVERY_TICKS == 0
            for run in runs:
                if run.verdict is not None:
                    continue
                verdict = run.over_limit(now, slow_checks)
                if verdict is not None:
                    self._end(run, verdict)
            # Resident memory moves slower than CPU: reading /proc every few ticks is enough,
            # and each read is a GIL hand-off the invocations feel.
            if tick % (RSS_EVERY_TICKS if runs else RSS_EVERY_TICKS_IDLE):
                continue
            self._rss = rss = rss_bytes()
            if rss > self._rss_limit and now >= self._relief_after:
                self._relieve(rss - self._rss_limit, runs, rss)
                self._relief_after = time.monotonic() + RELIEF_PAUSE_SECONDS
            for isolate in self._closer.closing():
                isolate.cpu_ns()  # keeps its last reading: CPU burnt after a verdict is charged
            stalled = self._closer.stalled_for()
            if stalled > CLOSE_STALL_SECONDS and not self._stall_reported:
                self._stall_reported = True
                self._on_stall(f"closing an isolate that ignores termination has stalled for {stalled:.1f} s")

    def _relieve(self, excess: int, runs: list[Watched], rss: int) -> None:
        """The process is over its resident-memory ceiling by `excess` bytes."""
        # Isolates being closed give their memory back soon: no one else pays for it.
        excess -= sum(isolate.closing_bytes for isolate in self._closer.closing())
        if excess <= 0:
            return
        freed = asyncio.run_coroutine_threadsafe(_call(self._evict_idle, excess), self._loop)
        try:
            if freed.result(timeout=0.2) >= min(excess, RSS_GROWTH_BYTES):
                return
        except Exception:  # noqa: BLE001 - the loop is busy: end a running one meanwhile
            pass
        live = [run for run in runs if run.verdict is None]
        holder = max(live, key=lambda run: run.isolate.external_bytes(), default=None)
        if holder is not None and holder.isolate.external_bytes() >= RSS_GROWTH_BYTES:
            self._end(holder, Outcome.EXCEEDED_MEMORY)
            return
        self._end_heaviest([run for run in live if rss - run.rss_baseline >= RSS_GROWTH_BYTES])

    def _end(self, run: Watched, verdict: Outcome) -> None:
        run.verdict = verdict
        with self._lock:
            self._watched.pop(id(run), None)
        self._last_cpu.pop(id(run), None)
        self._loop.call_soon_threadsafe(run.abort, verdict)

    def _end_heaviest(self, runs: list[Watched]) -> None:
        heaviest, most = None, -1
        for run in runs:
            if run.verdict is not None:
                continue
            cpu = run.cpu_ns()
            used = cpu - self._last_cpu.get(id(run), 0)
            self._last_cpu[id(run)] = cpu
            if used > most:
                heaviest, most = run, used
        if heaviest is not None:
            self._end(heaviest, Outcome.EXCEEDED_MEMORY)
        if len(self._last_cpu) > 4 * len(runs) + 64:
            live = {id(run) for run in runs}
            self._last_cpu = {k: v for k, v in self._last_cpu.items() if k in live}


async def _call(function: Callable[[int], int], argument: int) -> int:
    return function(argument)


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """Resident memory of this process."""
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * _PAGE_SIZE
