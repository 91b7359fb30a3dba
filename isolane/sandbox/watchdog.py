"""Limits enforced from outside JavaScript.

A thread samples every running invocation: the CPU time of its isolate's thread (which
covers microtasks and timer callbacks, ENGINE.md trap 1), V8's hard-heap-limit flag and the
wall clock. It only decides; the event loop ends the invocation and the `Closer` stops the
isolate. If a close itself stalls, the executor is beyond repair and `on_fatal` is called.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Protocol

from isolane.sandbox.isolates import Closer
from isolane.sandbox.outcomes import Outcome

TICK_SECONDS = 0.002
CLOSE_STALL_SECONDS = 2.0


class Watched(Protocol):
    """What the watchdog needs to know of a running invocation."""

    verdict: Outcome | None

    def over_limit(self, now: float) -> Outcome | None: ...

    def abort(self, outcome: Outcome) -> None: ...


class Watchdog:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        closer: Closer,
        on_fatal: Callable[[str], None],
    ) -> None:
        self._loop = loop
        self._closer = closer
        self._on_fatal = on_fatal
        self._watched: dict[int, Watched] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self._thread.start()

    def watch(self, run: Watched) -> None:
        with self._lock:
            self._watched[id(run)] = run

    def forget(self, run: Watched) -> None:
        with self._lock:
            self._watched.pop(id(run), None)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stopped.wait(TICK_SECONDS):
            now = time.monotonic()
            with self._lock:
                runs = list(self._watched.values())
            for run in runs:
                if run.verdict is not None:
                    continue
                verdict = run.over_limit(now)
                if verdict is not None:
                    run.verdict = verdict
                    with self._lock:
                        self._watched.pop(id(run), None)
                    self._loop.call_soon_threadsafe(run.abort, verdict)
            stalled = self._closer.stalled_for()
            if stalled > CLOSE_STALL_SECONDS:
                self._on_fatal(f"closing a runaway isolate has stalled for {stalled:.1f} s")
                return
