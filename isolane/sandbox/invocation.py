"""One invocation on one isolate, driven step by step by the executor's event loop.

A step is an evaluation of `__isolane.<method>(...)` in the isolate; its result is the
runtime's state, read through the trust boundary (boundary.py). Between steps the loop
answers host calls, fires timers, feeds a streamed request body and passes streamed
response chunks on, until the runtime reports the invocation done. The watchdog thread
watches it meanwhile (`over_limit`) and ends it from outside JavaScript (`abort`).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson

from isolane.runtime import host
from isolane.sandbox import boundary
from isolane.sandbox.boundary import BoundaryViolation, HostCall, State
from isolane.sandbox.engine import Isolate, ResultTooLarge
from isolane.sandbox.hostwork import Charge, HostWork
from isolane.sandbox.limits import Limits
from isolane.sandbox.outcomes import Outcome

# Bytes of a streamed response sent to the supervisor and not yet acknowledged (written to
# the client) past which the executor stops taking chunks from the isolate.
STREAM_WINDOW_BYTES = 1024 * 1024


class Aborted(Exception):
    """The watchdog (or the platform) ended this invocation."""


class Invocation:
    """One invocation on one isolate: driven by the loop, watched by the watchdog."""

    def __init__(self, isolate: Isolate, limits: Limits, owner: str, host_work: HostWork) -> None:
        self.isolate = isolate
        self.limits = limits
        self.owner = owner  # the namespace: host work is shared fairly between namespaces
        self.verdict: Outcome | None = None
        self.rss_baseline = 0  # set by the watchdog
        self.started = time.monotonic()
        self.deadline = self.started + limits.wall_ms / 1000
        self.cpu_start = isolate.cpu_ns()
        self.cpu_at_end: int | None = None  # the isolate's CPU reading when the reply left
        self._cpu_budget_ns = limits.cpu_ms * 1_000_000
        self.memory_bytes = limits.memory_mb * 1024 * 1024
        self._host_work = host_work
        self.host_cpu = Charge()
        self._wake = asyncio.Event()
        self._rung = False
        self._timer_due = False
        self._timer: asyncio.TimerHandle | None = None
        self._step_future: asyncio.Future[Any] | None = None
        self._unacked = 0  # streamed bytes the client has not taken yet
        self._answers: dict[int, asyncio.Future[tuple[bool, Any]]] = {}  # forwarded calls
        self._host_results: list[asyncio.Future[tuple[bool, Any]]] = []  # the executor's own calls
        # Request body pieces to hand to the isolate: (base64 chunk or None at the end, error).
        self._feed: deque[tuple[str | None, str | None]] = deque()

    # Called from the watchdog thread: reads only thread-safe facts.
    def over_limit(self, now: float, slow_checks: bool = True) -> Outcome | None:
        # The heap flag and the external-memory counter are calls into the engine (GIL
        # hand-offs): the watchdog asks for them every few ticks. V8 itself stops a script at
        # the hard heap limit in the meantime.
        if slow_checks and (self.isolate.heap_limit_reached() or self.isolate.external_bytes() > self.memory_bytes):
            return Outcome.EXCEEDED_MEMORY
        if self.cpu_ns_used() > self._cpu_budget_ns:
            return Outcome.EXCEEDED_CPU
        if now >= self.deadline:
            return Outcome.EXCEEDED_WALL_TIME
        return None

    def abort(self, outcome: Outcome) -> None:
        self.verdict = outcome
        self.host_cpu.ended = True  # its queued host calls never start
        step = self._step_future
        if step is not None and not step.done():
            step.set_exception(Aborted())
        for pending in [*self._answers.values(), *self._host_results]:  # no longer waited for
            if not pending.done():
                pending.set_exception(Aborted())
        self._wake.set()

    def ring(self) -> None:
        self._rung = True
        self._wake.set()

    def feed(self, piece: tuple[str | None, str | None]) -> None:
        """A piece of the streamed request body: (base64 chunk, None), (None, None) at its
        end, or (None, message) when it failed (e.g. it grew past the size limit)."""
        self._feed.append(piece)
        self._wake.set()

    def acknowledge(self, size: int) -> None:
        """The supervisor passed `size` streamed bytes on to the client."""
        self._unacked = max(self._unacked - size, 0)
        self._wake.set()

    def cpu_ns(self) -> int:
        """The isolate's own CPU reading (the watchdog compares these between ticks)."""
        return self.isolate.cpu_ns()

    def cpu_ns_used(self) -> int:
        """CPU this invocation has used: its isolate's thread, and its host calls so far,
        including those still running."""
        return self.isolate.cpu_ns() - self.cpu_start + self.host_cpu.total_ns()

    def cpu_ms(self) -> float:
        return max(self.cpu_ns_used(), 0) / 1e6

    def wall_ms(self) -> float:
        return (time.monotonic() - self.started) * 1000

    def answer(self, call_id: Any, ok: Any, value: Any) -> None:
        """The server's answer to a host call this invocation forwarded."""
        future = self._answers.pop(call_id, None) if isinstance(call_id, int) else None
        if future is not None and not future.done():
            future.set_result((bool(ok), value))

    async def drive(self, first_step: str, on_event: Callable[[dict[str, Any]], None]) -> State:
        """Run the invocation to completion; returns the runtime's final state. A fetch
        handler's response head and streamed body chunks go to `on_event` as soon as the
        runtime reports them (what the final state holds travels with the reply instead)."""
        try:
            state = await self._step(first_step)
            settled_in_step = True
            while not state.done:
                if state.response is not None:
                    on_event({"event": "response", "response": state.response.to_wire()})
                if state.chunks:
                    self._unacked += state.chunk_bytes
                    on_event({"event": "chunk", "chunks": state.chunks})
                if state.calls:
                    answers = await self._host_calls(state.calls, on_event)
                    state = await self._step(f"__isolane.reply({orjson.dumps(answers).decode()})")
                    settled_in_step = True
                    continue
                self._arm_timer(state.next_at_ms)
                # While the client lags, leave chunks in the isolate: its pump pauses.
                while not (self._timer_due or self._feed or (self._rung and self._unacked <= STREAM_WINDOW_BYTES)):
                    await self._wake.wait()
                    self._wake.clear()
                    if self.verdict is not None:
                        raise Aborted()
                self._wake.clear()
                if self.verdict is not None:
                    raise Aborted()
                if self._timer_due:
                    self._timer_due = False
                    state = await self._step("__isolane.fire()")
                    settled_in_step = True
                elif self._feed:
                    state = await self._step(f"__isolane.feed({orjson.dumps(self._feed.popleft()).decode()[1:-1]})")
                    settled_in_step = True
                elif self._rung:
                    self._rung = False
                    state = await self._step("__isolane.poll()")
                    settled_in_step = False
            if settled_in_step:
                # Microtasks queued by that step run after it returns: the invocation is
                # over only once they have drained, which this no-op evaluation waits for.
                await self._barrier()
            return state
        finally:
            if self._timer is not None:
                self._timer.cancel()

    async def _host_calls(self, calls: list[HostCall], on_event: Callable[[dict[str, Any]], None]) -> list[list[Any]]:
        """Answer the runtime's host calls. The executor's own operations (crypto) run on
        its host-work threads, their CPU charged to this invocation as they run; the rest
        (KV, fetch) go to the server as a `call` event, answered with `answer` frames."""
        loop = asyncio.get_running_loop()
        waiting: list[asyncio.Future[tuple[bool, Any]]] = []
        remote: list[dict[str, Any]] = []
        for call in calls:
            if call.op in host.OPERATIONS:
                local = self._host_work.submit(self.owner, call.op, call.args, self.host_cpu, loop)
                self._host_results.append(local)
                waiting.append(local)
            else:
                future: asyncio.Future[tuple[bool, Any]] = loop.create_future()
                self._answers[call.id] = future
                waiting.append(future)
                remote.append(call.to_wire())
        if remote:
            on_event({"event": "call", "calls": remote})
        try:
            results = await asyncio.gather(*waiting)
        finally:
            for call in calls:
                self._answers.pop(call.id, None)
            self._host_results.clear()
        return [[call.id, ok, value] for call, (ok, value) in zip(calls, results, strict=True)]

    async def _barrier(self) -> None:
        if self.verdict is not None:
            raise Aborted()
        self._step_future = self.isolate.eval("0")
        try:
            await self._step_future
        finally:
            self._step_future = None

    async def _step(self, code: str) -> State:
        if self.verdict is not None:
            raise Aborted()
        self._step_future = self.isolate.eval(code)
        try:
            text = await self._step_future
        except ResultTooLarge as exc:
            raise BoundaryViolation(f"the runtime's state is too large ({exc})") from exc
        finally:
            self._step_future = None
        return boundary.read_state(text)

    def _arm_timer(self, next_at_ms: float | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if next_at_ms is None:
            return
        # Never past the invocation's own deadline (the watchdog ends it there anyway).
        delay = min(max(next_at_ms / 1000 - time.time(), 0.0), max(self.deadline - time.monotonic(), 0.0) + 0.001)
        self._timer = asyncio.get_running_loop().call_later(delay, self._timer_fired)

    def _timer_fired(self) -> None:
        self._timer = None
        self._timer_due = True
        self._wake.set()
