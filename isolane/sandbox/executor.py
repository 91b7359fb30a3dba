"""The executor process: runs invocations in V8 isolates for the supervisor.

Started by the supervisor as `python -m isolane.sandbox.executor`, with a scrubbed
environment and an empty working directory; it speaks `protocol` frames on stdin/stdout.
One asyncio loop drives every isolate (each on its own native thread, so CPU-bound scripts
run in parallel); the watchdog thread enforces the limits from outside JavaScript.

Besides replies, the executor sends the supervisor a few events of its own: `started` when
an invocation had to wait for an isolate (its deadline starts then), `late_cpu` when an
isolate ended by a limit burnt more CPU before it stopped, and `retiring` when an isolate
ignores termination: the executor then takes no new work (`retry` replies), lets what runs
finish within its own limits, and exits, to be replaced.
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
from collections import OrderedDict, deque
from typing import Any

import orjson

from isolane.runtime import host
from isolane.sandbox import protocol
from isolane.sandbox.confinement import lockdown
from isolane.sandbox.boundary import MAX_STATE_BYTES, BoundaryViolation, State
from isolane.sandbox.engine import Isolate, OutOfMemory, ScriptError, Terminated
from isolane.sandbox.hostwork import HostWork
from isolane.sandbox.invocation import Aborted, Invocation
from isolane.sandbox.isolates import Closer, IsolateCache, IsolateFactory, fresh_entropy
from isolane.sandbox.limits import Limits
from isolane.sandbox.outcomes import Outcome
from isolane.sandbox.watchdog import Watchdog, rss_bytes

log = logging.getLogger("isolane.executor")

IDLE_CPU_BUDGET_NS = 20_000_000  # an idle isolate burning more than this is running away
CODE_CACHE_ENTRIES = 64
CHECK_TIMEOUT_SECONDS = 10.0
LATE_CPU_REPORT_NS = 1_000_000  # CPU after a verdict worth reporting (closing costs ~1 ms)
ALIVE_SECONDS = 1.0  # the supervisor tells a busy executor from a wedged one by these
ISOLATE_WAIT_SECONDS = 10.0  # for a prepared isolate, before an invocation gives up
_SYNTAX_LINE_OFFSET = 2  # `new Function` puts two lines of its own before the body


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
        self._host_work = HostWork()
        self._watchdog = Watchdog(
            self._loop,
            self._closer,
            memory_limit_mb * 1024 * 1024,
            on_stall=lambda reason: self._loop.call_soon_threadsafe(self.retire, reason),
            evict_idle=self._cache.evict_heaviest,
        )
        self._running: set[Invocation] = set()
        self._by_request: dict[Any, Invocation] = {}
        self._feeds: dict[Any, deque[tuple[str | None, str | None]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._retiring = False
        # Isolates ended by a limit, still closing: (key, invocation) for their late CPU.
        self._closing: dict[int, tuple[tuple[str, ...], Invocation]] = {}

    def _send(self, message: dict[str, Any]) -> None:
        self._writer.write(protocol.encode(message))

    def retire(self, reason: str) -> None:
        """Take no new work, let what runs finish within its own limits, then exit: the
        supervisor starts a replacement as soon as it hears of it."""
        if self._retiring:
            return
        self._retiring = True
        log.warning("retiring: %s", reason)
        self._send({"event": "retiring", "reason": reason})
        self._spawn(self._exit_when_idle())

    async def _exit_when_idle(self) -> None:
        while self._running or any(task is not asyncio.current_task() for task in self._tasks):
            await asyncio.sleep(0.05)
        # Isolates still stuck in their close stop with this process: their CPU so far counts.
        for isolate in self._closer.closing():
            self._charge_late(isolate, reading=isolate.cpu_ns(), send=self._send)
        await self._writer.drain()
        log.warning("retired: exiting")
        os._exit(0)  # a thread may still be stuck in V8: no interpreter teardown (trap 3)

    def _spawn(self, coroutine: Any) -> None:
        task = self._loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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
        if op == "invoke" and self._retiring:  # never started here: the supervisor sends it elsewhere
            self._send({"id": message.get("id"), "retry": True})
            return
        if op == "invoke" and (message.get("call") or {}).get("stream"):
            self._feeds[message.get("id")] = deque()  # feed frames may come before it starts
        handler = {"invoke": self._invoke, "check": self._check, "stats": self._stats}.get(str(op))
        if handler is None:
            self._send({"id": message.get("id"), "error": f"unknown op {op!r}"})
            return
        self._spawn(handler(message))

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
            except (TimeoutError, Terminated, OutOfMemory):
                log.error("no isolate for %s in time", "/".join(key[:2]))
                self._send(_reply(request_id, Outcome.CANCELED, error=_limit_error(Outcome.CANCELED, limits), cold=True))
                return
            if self._retiring:  # retired while this one waited for its isolate
                self._closer.close(isolate)
                self._send({"id": request_id, "retry": True})
                return
            self._send({"id": request_id, "event": "started"})  # its deadline starts now

        try:
            first_step = _first_step(message.get("call") or {"op": "run"})
        except (KeyError, TypeError, ValueError) as exc:
            self._cache.put(key, isolate)
            self._send({"id": request_id, "error": f"bad call: {exc}"})
            return
        run = Invocation(isolate, limits, str(key[0]), self._host_work)
        isolate.bind(self._loop, run.ring)
        isolate.max_result_bytes = MAX_STATE_BYTES
        isolate.set_heap_limit(limits.memory_mb * 1024 * 1024)
        self._running.add(run)
        self._watchdog.watch(run)
        healthy = False
        state = State(done=True)
        try:
            self._by_request[request_id] = run
            for chunk in self._feeds.get(request_id, ()):
                run.feed(chunk)
            self._feeds.get(request_id, deque()).clear()
            state = await run.drive(first_step, lambda event: self._send({"id": request_id, **event}))
            outcome = Outcome.OK if state.error is None else Outcome.EXCEPTION
            healthy = True
        except (Aborted, Terminated):
            outcome = run.verdict or Outcome.CANCELED
        except OutOfMemory:
            outcome = Outcome.EXCEEDED_MEMORY
        except ScriptError as exc:
            outcome = Outcome.EXCEPTION
            state = State(done=True, error=_engine_error(exc))
        except BoundaryViolation as exc:
            # What the isolate reported is malformed: tenant code tampered with the runtime.
            log.info("invocation of %s refused: %s", "/".join(key[:2]), exc)
            outcome = Outcome.EXCEPTION
            state = State(done=True, error={"name": "Error", "message": f"The worker's runtime reported a malformed result: {exc}.", "stack": None})
        finally:
            self._watchdog.forget(run)
            self._running.discard(run)
            self._by_request.pop(request_id, None)
        if run.verdict is None and isolate.external_bytes() > run.memory_bytes:
            run.verdict = Outcome.EXCEEDED_MEMORY  # grew past the limit since the watchdog's last look
        if run.verdict is not None:  # the watchdog's word is final, even if JS just finished
            outcome, healthy = run.verdict, False
        run.host_cpu.ended = True
        cpu_ms = run.cpu_ms()
        run.cpu_at_end = isolate.last_cpu_ns
        self._send(
            _reply(
                request_id,
                outcome,
                result=state.result if outcome is Outcome.OK else None,
                error=state.error if outcome is Outcome.EXCEPTION else _limit_error(outcome, limits),
                logs=state.logs,
                cpu_ms=cpu_ms,
                wall_ms=run.wall_ms(),
                cold=cold,
                response=state.response.to_wire() if outcome is Outcome.OK and state.response is not None else None,
                chunks=state.chunks,
            )
        )
        if healthy:
            self._cache.put(key, isolate)
        else:
            self._closing[id(isolate)] = (key, run)
            self._closer.close(isolate, self._charge_late)

    def _charge_late(self, isolate: Isolate, reading: int | None = None, send: Any = None) -> None:
        """CPU the isolate burnt after its invocation's reply (it ignored termination for a
        while) still counts: reported to the supervisor once the close is over (on the
        closing thread), or when this executor exits with the close still stuck."""
        entry = self._closing.pop(id(isolate), None)
        if entry is None:
            return
        key, run = entry
        late_ns = (reading if reading is not None else isolate.last_cpu_ns) - (run.cpu_at_end or isolate.last_cpu_ns)
        if late_ns >= LATE_CPU_REPORT_NS:
            message = {"event": "late_cpu", "key": list(key), "cpu_ms": round(late_ns / 1e6, 3)}
            if send is not None:
                send(message)
            else:
                self._loop.call_soon_threadsafe(self._send, message)

    def _take_warm(self, key: tuple[str, ...]) -> Isolate | None:
        while (entry := self._cache.take(key)) is not None:
            isolate, idle_cpu = entry
            if isolate.cpu_ns() - idle_cpu <= IDLE_CPU_BUDGET_NS:
                return isolate
            log.warning("closing an idle isolate of %s that kept running", "/".join(key))
            self._closer.close(isolate)
        return None

    async def heartbeat(self) -> None:
        while True:
            await asyncio.sleep(ALIVE_SECONDS)
            self._send({"event": "alive"})

    async def _load(self, kind: str, name: str, code: str, env: Any, bindings: Any) -> Isolate:
        isolate = await asyncio.wait_for(self._factory.get(), ISOLATE_WAIT_SECONDS)
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
        try:
            isolate = await asyncio.wait_for(self._factory.get(), ISOLATE_WAIT_SECONDS)
        except TimeoutError:
            self._send({"id": request_id, "ok": False, "message": "the script could not be compiled in time", "line": None, "column": None})
            return
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
        self._host_work.stop()
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


def _die_with_parent(instructions: lockdown.Instructions | None) -> None:
    """Ask the kernel to kill us if the server dies (PR_SET_PDEATHSIG). Confined, our parent
    is bubblewrap's pid 1, which dies with the server (--die-with-parent) and takes us along."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1 and not (instructions and instructions.pid_namespace):
        os._exit(0)  # the server died before we asked


async def _serve(args: argparse.Namespace, out_fd: int, instructions: lockdown.Instructions | None) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=protocol.MAX_FRAME_BYTES)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    transport, proto = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, os.fdopen(out_fd, "wb"))
    writer = asyncio.StreamWriter(transport, proto, None, loop)
    host.load_operations()
    # Start-up is done: from here on the process is confined as the server asked (no new
    # file descriptors' worth of privileges, no system calls outside the allowlist).
    if instructions is not None:
        lockdown.apply(instructions)
    executor = Executor(writer, cache_size=args.cache_size, spares=args.spares, memory_limit_mb=args.memory_limit_mb)
    gc.collect()
    gc.freeze()  # start-up objects need no more collecting: keeps full collections short
    heartbeat = loop.create_task(executor.heartbeat())
    try:
        while (message := await protocol.read_message(reader)) is not None:
            executor.dispatch(message)
    finally:
        heartbeat.cancel()
        executor.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description="Isolane executor (started by the server)")
    parser.add_argument("--cache-size", type=int, default=256)
    parser.add_argument("--spares", type=int, default=2)
    parser.add_argument("--memory-limit-mb", type=int, default=2048)
    args = parser.parse_args()
    instructions = lockdown.Instructions.from_env(os.environ.get(lockdown.ENV))
    lockdown.begin(instructions)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    _die_with_parent(instructions)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides when we stop
    # Frames go to the original stdout; anything else printed lands on stderr.
    out_fd = os.dup(1)
    os.dup2(2, 1)
    try:
        import uvloop

        # One run of the loop, never a second: uvloop sets its signal wakeup up with a new
        # socketpair on every run, which the seccomp filter refuses once locked down.
        uvloop.new_event_loop().run_until_complete(_serve(args, out_fd, instructions))
    except Exception:  # noqa: BLE001
        log.exception("executor failed")
        os._exit(1)
    # Skip interpreter teardown: V8 threads can hang it (ENGINE.md trap 3).
    os._exit(0)


if __name__ == "__main__":
    main()
