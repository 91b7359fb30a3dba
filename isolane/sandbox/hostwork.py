"""Host calls an executor performs itself (Web Crypto): on worker threads, shared fairly
between namespaces, their CPU charged to the calling invocation while they run.

Each namespace has its own queue, and the workers take calls from the namespaces in turn,
so one namespace's flood of PBKDF2 calls delays its own calls, not another namespace's.
While a call runs, its worker thread's CPU clock counts towards the invocation's CPU
(`Charge.running_ns`), so the watchdog ends an invocation at its CPU limit in the middle of
a long call, not after it. A running call cannot be interrupted (it is native code): when its
invocation ends, its result is dropped and the invocation's queued calls never start. Each
operation bounds its own cost (runtime/host: e.g. PBKDF2 iterations), which bounds what a
call can run on past its invocation's end.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from isolane.runtime import host

Result = tuple[bool, Any]


class Charge:
    """The host CPU of one invocation: calls finished, and calls running now."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done_ns = 0
        self._running: dict[int, tuple[int, int]] = {}  # job id -> (thread CPU clock, reading at start)
        self.ended = False  # its invocation is over: queued calls are skipped

    def start(self, job_id: int, clock: int) -> None:
        with self._lock:
            self._running[job_id] = (clock, time.clock_gettime_ns(clock))

    def finish(self, job_id: int) -> None:
        with self._lock:
            clock, started = self._running.pop(job_id)
            self._done_ns += time.clock_gettime_ns(clock) - started

    def total_ns(self) -> int:
        """CPU spent so far, including the calls still running. Safe from any thread."""
        if not self._running:  # most invocations make no host call: no lock on that path
            return self._done_ns
        with self._lock:
            running = sum(time.clock_gettime_ns(clock) - started for clock, started in self._running.values())
            return self._done_ns + running


class _Job:
    __slots__ = ("args", "charge", "deliver", "id", "op")

    def __init__(self, job_id: int, op: str, args: Any, charge: Charge, deliver: Callable[[Result], None]) -> None:
        self.id = job_id
        self.op = op
        self.args = args
        self.charge = charge
        self.deliver = deliver


class HostWork:
    """Worker threads for host operations, taking namespaces' queues in turn."""

    def __init__(self, threads: int | None = None) -> None:
        self._cond = threading.Condition()
        self._queues: dict[str, deque[_Job]] = {}
        self._turns: deque[str] = deque()  # namespaces with queued calls, next first
        self._next_id = 0
        self._stopped = False
        count = threads if threads is not None else max(os.cpu_count() or 1, 2)
        self._threads = [threading.Thread(target=self._work, name=f"host-call-{n}", daemon=True) for n in range(count)]
        for thread in self._threads:
            thread.start()

    def submit(self, owner: str, op: str, args: Any, charge: Charge, loop: asyncio.AbstractEventLoop) -> asyncio.Future[Result]:
        """Queue `op(args)` for namespace `owner`; the future settles on `loop`."""
        future: asyncio.Future[Result] = loop.create_future()

        def deliver(result: Result) -> None:
            loop.call_soon_threadsafe(_settle, future, result)

        with self._cond:
            self._next_id += 1
            queue = self._queues.get(owner)
            if queue is None:
                queue = self._queues[owner] = deque()
                self._turns.append(owner)
            queue.append(_Job(self._next_id, op, args, charge, deliver))
            self._cond.notify()
        return future

    def queued(self) -> int:
        with self._cond:
            return sum(len(queue) for queue in self._queues.values())

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def _take(self) -> _Job | None:
        with self._cond:
            while not self._turns and not self._stopped:
                self._cond.wait()
            if self._stopped:
                return None
            owner = self._turns.popleft()
            queue = self._queues[owner]
            job = queue.popleft()
            if queue:
                self._turns.append(owner)  # its next call waits for the other namespaces' turns
            else:
                del self._queues[owner]
            return job

    def _work(self) -> None:
        clock = time.pthread_getcpuclockid(threading.get_ident())
        while (job := self._take()) is not None:
            if job.charge.ended:
                continue  # its invocation is over: nobody waits for this
            job.charge.start(job.id, clock)
            try:
                result = host.perform(job.op, job.args)
            finally:
                job.charge.finish(job.id)
            if not job.charge.ended:
                job.deliver(result)


def _settle(future: asyncio.Future[Result], result: Result) -> None:
    if not future.done():
        future.set_result(result)
