"""The executor process: runs invocations in V8 isolates for the supervisor.

Started by the supervisor as `python -m isolane.sandbox.executor`, with a scrubbed
environment and an empty working directory; it speaks `protocol` frames on stdin/stdout.
One asyncio loop drives every isolate (each on its own native thread, so CPU-bound scripts
run in parallel); the watchdog thread enforces the limits from outside JavaScript.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import logging
import os
import signal
import sys
import time
from collections import OrderedDict, deque
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from typing import Any

import orjson

from isolane.runtime import host
from isolane.sandbox import protocol
from isolane.sandbox.engine import Isolate, OutOfMemory, ScriptError, Terminated
from isolane.sandbox.isolates import Closer, IsolateCache, IsolateFactory, fresh_entropy
from isolane.sandbox.limits import Limits
from isolane.sandbox.outcomes import Outcome
from isolane.sandbox.watchdog import Watchdog, rss_bytes

log = logging.getLogger("isolane.executor")

IDLE_CPU_BUDGET_NS = 20_000_000  # an idle isolate burning more than this is running away
CODE_CACHE_ENTRIES = 64
CHECK_TIMEOUT_SECONDS = 10.0
HOST_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="host-call")
# Bytes of a streamed response sent to the supervisor and not yet acknowledged (written to
# the client) past which the executor stops taking chunks from the isolate.
STREAM_WINDOW_BYTES = 1024 * 1024
_SYNTAX_LINE_OFFSET = 2  # `new Function` puts two lines of its own before the body


class Aborted(Exception):
    """The watchdog ended this invocation."""


class RuntimeCorrupted(Exception):
    """A host step returned something other than the runtime's state."""


class Invocation:
    """One invocation on one isolate: driven by the loop, watched by the watchdog."""

    def __init__(self, isolate: Isolate, limits: Limits) -> None:
        self.isolate = isolate
        self.limits = limits
        self.verdict: Outcome | None = None
        self.rss_baseline = 0  # set by the watchdog
        self.started = time.monotonic()
        self.deadline = self.started + limits.wall_ms / 1000
        self.cpu_start = isolate.cpu_ns()
        self._cpu_budget_ns = limits.cpu_ms * 1_000_000
        self._wake = asyncio.Event()
        self._rung = False
        self._timer_due = False
        self._timer: asyncio.TimerHandle | None = None
        self._step_future: asyncio.Future[Any] | None = None
        self._unacked = 0  # streamed bytes the client has not taken yet
        self._host_cpu_ns = 0  # CPU the host spent on this invocation's host calls
        self._answers: dict[Any, asyncio.Future[tuple[bool, Any]]] = {}  # forwarded calls
        # Request body pieces to hand to the isolate: (base64 chunk or None at the end, error).
        self._feed: deque[tuple[str | None, str | None]] = deque()

    # Called from the watchdog thread: reads only thread-safe facts.
    def over_limit(self, now: float, check_heap: bool = True) -> Outcome | None:
        # The heap flag is a call into the engine (a GIL hand-off): the watchdog asks for it
        # every few ticks; V8 itself stops a script at the hard limit in the meantime.
        if check_heap and self.isolate.heap_limit_reached():
            return Outcome.EXCEEDED_MEMORY
        if self.isolate.cpu_ns() - self.cpu_start + self._host_cpu_ns > self._cpu_budget_ns:
            return Outcome.EXCEEDED_CPU
        if now >= self.deadline:
            return Outcome.EXCEEDED_WALL_TIME
        return None

    def abort(self, outcome: Outcome) -> None:
        self.verdict = outcome
        step = self._step_future
        if step is not None and not step.done():
            step.set_exception(Aborted())
        for pending in self._answers.values():  # forwarded host calls will not be waited for
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
        return self.isolate.cpu_ns()

    def cpu_ms(self) -> float:
        return max(self.isolate.cpu_ns() - self.cpu_start + self._host_cpu_ns, 0) / 1e6

    async def _host_calls(self, calls: list[dict[str, Any]], on_event: Callable[[dict[str, Any]], None]) -> list[list[Any]]:
        """Answer the runtime's host calls. The executor's own operations run on worker
        threads, their CPU counted as this invocation's; the rest (KV, fetch) go to the
        server as a `call` event, answered with `answer` frames."""
        loop = asyncio.get_running_loop()
        local = [call for call in calls if call.get("op") in host.OPERATIONS]
        remote = [call for call in calls if call.get("op") not in host.OPERATIONS]
        waiting = []
        for call in remote:
            future: asyncio.Future[tuple[bool, Any]] = loop.create_future()
            self._answers[call.get("id")] = future
            waiting.append(future)
        if remote:
            on_event({"event": "call", "calls": remote})
        results = await asyncio.gather(
            *(loop.run_in_executor(HOST_THREADS, _perform_timed, call.get("op"), call.get("args")) for call in local),
            *waiting,
        )
        answers = []
        for call, (ok, value, cpu_ns) in zip(local, results[: len(local)], strict=True):
            self._host_cpu_ns += cpu_ns
            answers.append([call.get("id"), ok, value])
        for call, (ok, value) in zip(remote, results[len(local) :], strict=True):
            self._answers.pop(call.get("id"), None)
            answers.append([call.get("id"), ok, value])
        return answers

    def answer(self, call_id: Any, ok: bool, value: Any) -> None:
        """The server's answer to a host call this invocation forwarded."""
        future = self._answers.pop(call_id, None)
        if future is not None and not future.done():
            future.set_result((bool(ok), value))

    def wall_ms(self) -> float:
        return (time.monotonic() - self.started) * 1000

    async def drive(self, first_step: str, on_event: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Run the invocation to completion; returns the runtime's final state. A fetch
        handler's response head and streamed body chunks go to `on_event` as soon as the
        runtime reports them (what the final state holds travels with the reply instead)."""
        try:
            state = await self._step(first_step)
            settled_in_step = True
            while True:
                if state.get("done"):
                    break
                if "response" in state:
                    on_event({"event": "response", "response": state.pop("response")})
                if "chunks" in state:
                    chunks = state.pop("chunks")
                    self._unacked += sum(len(chunk) for chunk in chunks) * 3 // 4
                    on_event({"event": "chunk", "chunks": chunks})
                if "calls" in state:
                    answers = await self._host_calls(state.pop("calls"), on_event)
                    state = await self._step(f"__isolane.reply({orjson.dumps(answers).decode()})")
                    settled_in_step = True
                    continue
                self._arm_timer(state.get("next"))
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

    async def _barrier(self) -> None:
        if self.verdict is not None:
            raise Aborted()
        self._step_future = self.isolate.eval("0")
        try:
            await self._step_future
        finally:
            self._step_future = None

    async def _step(self, code: str) -> dict[str, Any]:
        if self.verdict is not None:
            raise Aborted()
        self._step_future = self.isolate.eval(code)
        try:
            text = await self._step_future
        finally:
            self._step_future = None
        try:
            state = orjson.loads(text)
        except (orjson.JSONDecodeError, TypeError) as exc:
            raise RuntimeCorrupted("the runtime returned an unreadable state") from exc
        if not isinstance(state, dict):
            raise RuntimeCorrupted("the runtime returned an unreadable state")
        return state

    def _arm_timer(self, next_at_ms: float | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if next_at_ms is None:
            return
        delay = max(next_at_ms / 1000 - time.time(), 0)
        self._timer = asyncio.get_running_loop().call_later(delay, self._timer_fired)

    def _timer_fired(self) -> None:
        self._timer = None
        self._timer_due = True
        self._wake.set()


class CodeCache:
    """Recently received sources, so a second isolate for a script needs no round trip."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[tuple[str, ...], tuple[str, Any, Any]] = OrderedDict()

    def get(self, key: tuple[str, ...]) -> tuple[str, Any, Any] | None:
        code = self._entries.get(key)
        if code is not None:
            self._entries.move_to_end(key)
        return code

    def put(self, key: tuple[str, ...], code: tuple[str, Any, Any]) -> None:
        self._entries[key] = code
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)


def _perform_timed(op: Any, args: Any) -> tuple[bool, Any, int]:
    started = time.thread_time_ns()
    ok, value = host.perform(str(op), args)
    return ok, value, time.thread_time_ns() - started


def _js_string(text: str) -> str:
    return orjson.dumps(text).decode("utf-8")


def _first_step(call: dict[str, Any]) -> str:
    """The host step that starts an invocation: seed run, handler inspection, a fetch, or a cron tick."""
    op = call["op"]
    if op == "run":
        return "__isolane.run()"
    if op == "inspect":
        return "__isolane.inspect()"
    if op == "fetch":
        headers = [[str(name), str(value)] for name, value in call["headers"]]
        body = call.get("body")
        args = [str(call["method"]), str(call["url"]), headers, None if body is None else str(body), bool(call.get("stream"))]
        return f"__isolane.fetch({orjson.dumps(args).decode('utf-8')[1:-1]})"
    if op == "scheduled":
        args = [str(call["cron"]), int(call["scheduledTime"])]
        return f"__isolane.scheduled({orjson.dumps(args).decode('utf-8')[1:-1]})"
    raise ValueError(f"unknown call {op!r}")


def parse_syntax_error(message: str) -> tuple[str, int | None, int | None]:
    """(message, line, column) from V8's report of an uncaught `new Function` SyntaxError."""
    lines = message.split("\n")
    head = lines[0]
    line: int | None = None
    column: int | None = None
    prefix, sep, rest = head.partition(": ")
    if sep and prefix.rpartition(":")[2].isdigit():
        line = max(int(prefix.rpartition(":")[2]) - _SYNTAX_LINE_OFFSET, 1)
        head = rest
        if len(lines) > 2 and "^" in lines[2]:
            column = lines[2].index("^") + 1
    return head, line, column


class Executor:
    def __init__(self, writer: asyncio.StreamWriter, cache_size: int, spares: int, memory_limit_mb: int) -> None:
        self._loop = asyncio.get_running_loop()
        self._writer = writer
        self._closer = Closer()
        self._factory = IsolateFactory(self._loop, spares)
        self._cache = IsolateCache(cache_size, self._closer)
        self._codes = CodeCache(CODE_CACHE_ENTRIES)
        self._watchdog = Watchdog(self._loop, self._closer, self._fatal, memory_limit_mb * 1024 * 1024)
        self._running: set[Invocation] = set()
        self._by_request: dict[Any, Invocation] = {}
        self._feeds: dict[Any, deque[tuple[str | None, str | None]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def _fatal(self, reason: str) -> None:
        # Called from the watchdog thread; the supervisor cancels what was in flight here.
        log.critical("executor giving up: %s", reason)
        os._exit(70)

    def _send(self, message: dict[str, Any]) -> None:
        self._writer.write(protocol.encode(message))

    def dispatch(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op == "ack":  # the client took streamed bytes: more may flow
            run = self._by_request.get(message.get("id"))
            if run is not None:
                run.acknowledge(int(message.get("bytes") or 0))
            return
        if op == "answer":  # the server answered a forwarded host call
            run = self._by_request.get(message.get("id"))
            if run is not None:
                run.answer(message.get("call"), message.get("ok"), message.get("value"))
            return
        if op == "cancel":  # the client went away
            run = self._by_request.get(message.get("id"))
            if run is not None and run.verdict is None:
                run.abort(Outcome.CANCELED)
            return
        if op == "feed":  # a piece of a streamed request body
            pending = self._feeds.get(message.get("id"))
            if pending is not None:
                pending.append((message.get("chunk"), message.get("error")))
                run = self._by_request.get(message.get("id"))
                if run is not None:
                    run.feed(pending.popleft())
            return
        if op == "invoke" and (message.get("call") or {}).get("stream"):
            self._feeds[message.get("id")] = deque()  # feed frames may come before it starts
        handler = {"invoke": self._invoke, "check": self._check, "stats": self._stats}.get(str(op))
        if handler is None:
            self._send({"id": message.get("id"), "error": f"unknown op {op!r}"})
            return
        task = self._loop.create_task(handler(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _invoke(self, message: dict[str, Any]) -> None:
        try:
            await self._invoke_now(message)
        finally:
            self._feeds.pop(message["id"], None)

    async def _invoke_now(self, message: dict[str, Any]) -> None:
        request_id = message["id"]
        key = tuple(message["key"])
        limits = Limits.from_wire(message["limits"])
        isolate = self._take_warm(key)
        cold = isolate is None
        if isolate is None:
            code = (message["code"], message.get("env"), message.get("bindings")) if message.get("code") else self._codes.get(key)
            if code is None:
                self._send({"id": request_id, "need_code": True})
                return
            self._codes.put(key, code)
            try:
                isolate = await self._load(message.get("kind", "classic"), message.get("name", "worker.js"), *code)
            except ScriptError as exc:
                self._send(_reply(request_id, Outcome.EXCEPTION, error=_engine_error(exc), cold=True))
                return

        try:
            first_step = _first_step(message.get("call") or {"op": "run"})
        except (KeyError, TypeError, ValueError) as exc:
            self._cache.put(key, isolate)
            self._send({"id": request_id, "error": f"bad call: {exc}"})
            return
        run = Invocation(isolate, limits)
        isolate.bind(self._loop, run.ring)
        isolate.set_heap_limit(limits.memory_mb * 1024 * 1024)
        self._running.add(run)
        self._watchdog.watch(run)
        healthy = False
        state: dict[str, Any] = {}
        try:
            self._by_request[request_id] = run
            for chunk in self._feeds.get(request_id, ()):
                run.feed(chunk)
            self._feeds.get(request_id, deque()).clear()
            state = await run.drive(first_step, lambda event: self._send({"id": request_id, **event}))
            outcome = Outcome.OK if state.get("error") is None else Outcome.EXCEPTION
            healthy = True
        except (Aborted, Terminated):
            outcome = run.verdict or Outcome.CANCELED
        except OutOfMemory:
            outcome = Outcome.EXCEEDED_MEMORY
        except (ScriptError, RuntimeCorrupted) as exc:
            outcome = Outcome.EXCEPTION
            state = {"error": _engine_error(exc)}
        finally:
            self._watchdog.forget(run)
            self._running.discard(run)
            self._by_request.pop(request_id, None)
        if run.verdict is not None:  # the watchdog's word is final, even if JS just finished
            outcome, healthy = run.verdict, False
        self._send(
            _reply(
                request_id,
                outcome,
                result=state.get("result") if outcome is Outcome.OK else None,
                error=state.get("error") if outcome is Outcome.EXCEPTION else _limit_error(outcome, limits),
                logs=state.get("logs") or [],
                cpu_ms=run.cpu_ms(),
                wall_ms=run.wall_ms(),
                cold=cold,
                response=state.get("response") if outcome is Outcome.OK else None,
                chunks=state.get("chunks"),
            )
        )
        if healthy:
            self._cache.put(key, isolate)
        else:
            self._closer.close(isolate)

    def _take_warm(self, key: tuple[str, ...]) -> Isolate | None:
        while (entry := self._cache.take(key)) is not None:
            isolate, idle_cpu = entry
            if isolate.cpu_ns() - idle_cpu <= IDLE_CPU_BUDGET_NS:
                return isolate
            log.warning("closing an idle isolate of %s that kept running", "/".join(key))
            self._closer.close(isolate)
        return None

    async def _load(self, kind: str, name: str, code: str, env: Any, bindings: Any) -> Isolate:
        isolate = await self._factory.get()
        isolate.bind(self._loop, _ignore)
        args = orjson.dumps([kind, name, code, env, bindings]).decode("utf-8")[1:-1]
        try:
            # Reseeded for each script: no two scripts ever draw from one generator state.
            await asyncio.wait_for(
                isolate.eval(f'__isolane.seed("{fresh_entropy()}"); __isolane.load({args})'),
                CHECK_TIMEOUT_SECONDS,
            )
        except BaseException:
            self._closer.close(isolate)
            raise
        return isolate

    async def _check(self, message: dict[str, Any]) -> None:
        request_id = message["id"]
        isolate = await self._factory.get()
        isolate.bind(self._loop, _ignore)
        try:
            await asyncio.wait_for(isolate.eval(f"__isolane.check({_js_string(message['code'])})"), CHECK_TIMEOUT_SECONDS)
            reply: dict[str, Any] = {"id": request_id, "ok": True}
        except ScriptError as exc:
            text, line, column = parse_syntax_error(str(exc))
            reply = {"id": request_id, "ok": False, "message": text, "line": line, "column": column}
        except (TimeoutError, Terminated, OutOfMemory):
            reply = {"id": request_id, "ok": False, "message": "the script could not be compiled in time", "line": None, "column": None}
        finally:
            self._closer.close(isolate)
        self._send(reply)

    async def _stats(self, message: dict[str, Any]) -> None:
        self._send(
            {
                "id": message["id"],
                "pid": os.getpid(),
                "idle_isolates": len(self._cache),
                "spare_isolates": self._factory.spare_count,
                "running": len(self._running),
                "evictions": self._cache.evictions,
                "rss_bytes": rss_bytes(),
            }
        )

    def shutdown(self) -> None:
        for run in list(self._running):
            run.abort(Outcome.CANCELED)
        self._watchdog.stop()
        for isolate in self._factory.stop() + self._cache.drain():
            self._closer.close(isolate)
        self._closer.stop()


def _ignore() -> None:
    pass


def _reply(
    request_id: Any,
    outcome: Outcome,
    *,
    result: Any = None,
    error: dict[str, Any] | None = None,
    logs: list[Any] | None = None,
    cpu_ms: float = 0.0,
    wall_ms: float = 0.0,
    cold: bool = False,
    response: dict[str, Any] | None = None,
    chunks: list[str] | None = None,
) -> dict[str, Any]:
    reply = {
        "id": request_id,
        "outcome": outcome.value,
        "result": result,
        "error": error,
        "logs": logs or [],
        "cpu_ms": round(cpu_ms, 3),
        "wall_ms": round(wall_ms, 3),
        "cold": cold,
    }
    if response is not None:
        reply["response"] = response
    if chunks:
        reply["chunks"] = chunks
    return reply


def _engine_error(exc: Exception) -> dict[str, Any]:
    text = str(exc).strip()
    first = text.split("\n", 1)[0]
    name, sep, rest = first.partition(": ")
    if not sep or " " in name:
        name, rest = "Error", first
    return {"name": name, "message": rest, "stack": None}


_LIMIT_MESSAGES = {
    Outcome.EXCEEDED_CPU: "Worker exceeded CPU time limit of {cpu_ms} ms.",
    Outcome.EXCEEDED_MEMORY: "Worker exceeded memory limit of {memory_mb} MB.",
    Outcome.EXCEEDED_WALL_TIME: "Worker exceeded wall-clock time limit of {wall_ms} ms.",
    Outcome.CANCELED: "The invocation was canceled by the platform.",
}


def _limit_error(outcome: Outcome, limits: Limits) -> dict[str, Any] | None:
    template = _LIMIT_MESSAGES.get(outcome)
    if template is None:
        return None
    return {"name": "Error", "message": template.format(**limits.to_wire()), "stack": None}


def _die_with_parent() -> None:
    """Ask the kernel to kill us if the server dies (PR_SET_PDEATHSIG)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:
        os._exit(0)


async def _serve(args: argparse.Namespace, out_fd: int) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=protocol.MAX_FRAME_BYTES)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    transport, proto = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, os.fdopen(out_fd, "wb"))
    writer = asyncio.StreamWriter(transport, proto, None, loop)
    host.load_operations()
    executor = Executor(writer, cache_size=args.cache_size, spares=args.spares, memory_limit_mb=args.memory_limit_mb)
    gc.collect()
    gc.freeze()  # start-up objects need no more collecting: keeps full collections short
    try:
        while (message := await protocol.read_message(reader)) is not None:
            executor.dispatch(message)
    finally:
        executor.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description="Isolane executor (started by the server)")
    parser.add_argument("--cache-size", type=int, default=256)
    parser.add_argument("--spares", type=int, default=2)
    parser.add_argument("--memory-limit-mb", type=int, default=2048)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="executor %(process)d %(levelname)s %(message)s")
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides when we stop
    # Frames go to the original stdout; anything else printed lands on stderr.
    out_fd = os.dup(1)
    os.dup2(2, 1)
    try:
        import uvloop

        uvloop.run(_serve(args, out_fd))
    except Exception:  # noqa: BLE001
        log.exception("executor failed")
        os._exit(1)
    # Skip interpreter teardown: V8 threads can hang it (ENGINE.md trap 3).
    os._exit(0)


if __name__ == "__main__":
    main()
