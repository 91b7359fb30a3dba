"""The supervisor: runs executor processes for the server and routes invocations to them.

Executors get a scrubbed environment, an empty working directory and no access to the
server's data: code travels to them in the request. An invocation goes to an executor that
already has the script warm, unless that one is clearly busier than another. If an
executor dies it is replaced; what it was running ends with outcome `canceled`, and what
it never read (its frame still in the pipe, or sent after it died) runs elsewhere. If an
executor fails to answer well past an invocation's wall-clock limit (its own watchdog
failed), it is killed: that invocation ends `exceededWallTime`, the rest `canceled`. The
deadline counts from when the invocation started running there, not while it waited for
an isolate (the executor says `started`).

An executor whose isolate ignores termination retires itself (`retiring`): it gets no new
work, a replacement starts at once, and it exits once what it runs has finished. Frames
from an executor are read defensively: a malformed one ends the request it names, never
the reader, and the keeper that replaces executors survives any failure.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import fcntl
import itertools
import logging
import os
import select
import sys
import termios
import time
from collections import OrderedDict
from base64 import b64encode
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from isolane.sandbox import protocol
from isolane.sandbox.confinement.jail import Confined, Jail, ProcessLimits
from isolane.sandbox.confinement.layers import Layers, SandboxMode
from isolane.sandbox.limits import Limits
from isolane.sandbox.outcomes import Outcome

log = logging.getLogger(__name__)

DEADLINE_GRACE_SECONDS = 3.0  # beyond the wall-clock limit, before the supervisor steps in
CHECK_DEADLINE_SECONDS = 15.0
# Until the executor says an invocation started (it may queue for an isolate), the executor
# is only required to stay alive: it sends `alive` every second, and one silent for this
# long is wedged. Past START_DEADLINE_SECONDS the wait ends anyway.
SILENCE_SECONDS = 3.0
START_DEADLINE_SECONDS = 30.0
RETIRE_GRACE_SECONDS = 5.0  # past the longest wall-clock limit in flight, before a kill
RETRIES = 3  # invocations a retiring executor did not start go elsewhere
REPLACEMENT_WAIT_SECONDS = 10.0  # for an executor to retry on, when all have retired at once
SPILLOVER_MARGIN = 2  # prefer a warm executor unless it has this many more in flight
MAX_RESTART_DELAY = 5.0


@dataclass(frozen=True, slots=True)
class ScriptRef:
    """Which code an invocation runs. The version is immutable: caches key on it."""

    namespace: str
    script: str
    version: str
    kind: str = "classic"
    # The same version loaded with another environment (e.g. an outbound worker's caller
    # values, a dispatcher's namespace binding): cached apart from the plain version.
    variant: str = ""
    # When the namespace was created: a namespace deleted and created again under its name
    # may deploy byte-identical code (the same version id), but never gets the isolates,
    # and so the module state, of the one before.
    incarnation: int = 0

    @property
    def key(self) -> tuple[str, str, str]:
        version = f"{self.version}~{self.variant}" if self.variant else self.version
        return (self.namespace, self.script, f"{version}@{self.incarnation}" if self.incarnation else version)


@dataclass(frozen=True, slots=True)
class ScriptCode:
    """What an executor needs to load a version: its code and its environment (bindings)."""

    code: str
    env: dict[str, Any] | None = field(default=None, repr=False)  # values may be secrets
    # Capability bindings ({"type", "name"}) the runtime turns into objects on `env`.
    bindings: list[dict[str, Any]] | None = None


@dataclass(slots=True)
class ExecutionResult:
    outcome: Outcome
    result: Any = None
    error: dict[str, Any] | None = None
    logs: list[dict[str, Any]] = field(default_factory=list)
    cpu_ms: float = 0.0
    wall_ms: float = 0.0
    cold: bool = False

    @classmethod
    def from_reply(cls, reply: dict[str, Any]) -> ExecutionResult:
        """The executor's reply, checked: `MalformedFrame` if it is not one."""
        try:
            outcome = Outcome(reply["outcome"])
            error = reply.get("error")
            logs = reply.get("logs") or []
            if not (error is None or isinstance(error, dict)) or not isinstance(logs, list):
                raise TypeError("error or logs of the wrong type")
            return cls(
                outcome=outcome,
                result=reply.get("result"),
                error=error,
                logs=logs,
                cpu_ms=float(reply.get("cpu_ms") or 0.0),
                wall_ms=float(reply.get("wall_ms") or 0.0),
                cold=bool(reply.get("cold")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedFrame(f"a malformed reply: {exc}") from exc


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    message: str = ""
    line: int | None = None
    column: int | None = None


class BodyError(Exception):
    """A streamed request body failed (too large, client gone): the script's stream errors."""


class ExecutorLost(Exception):
    """The executor died (or was killed) before it answered."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.value)
        self.outcome = outcome


class Retry(Exception):
    """The executor did not start the request (it is retiring, or gone before it was sent
    there): send it elsewhere."""


class MalformedFrame(Exception):
    """The executor's frame about a request could not be used: that request ends."""


_CANCELED_ERROR = {"name": "Error", "message": "The invocation was canceled by the platform.", "stack": None}
STATS_FIELDS = ("idle_isolates", "spare_isolates", "running", "evictions", "rss_bytes")  # an executor's stats reply
RELAY_LINE_BYTES = 16 * 1024  # an executor's log line, at most, on the server's stderr
_MALFORMED_ERROR = {"name": "Error", "message": "The worker's runtime reported a malformed result.", "stack": None}


def executor_limits(cache_size: int, spares: int, memory_mb: int) -> ProcessLimits:
    """What the kernel lets an executor have: memory well above its own RSS ceiling, which
    it keeps by sampling and ending what holds the most, so concurrent invocations may
    overshoot it for a moment (the cgroup is the backstop that kills the executor: twice the
    ceiling plus 1 GiB); and a thread per cached, spare and closing isolate plus V8's and
    the executor's own."""
    return ProcessLimits(memory_mb=2 * memory_mb + 1024, pids=2 * (cache_size + spares) + 256)


async def _relay(stream: asyncio.StreamReader | None, pid: int) -> None:
    """An executor's stderr (its log lines) onto the server's, each line prefixed with its
    host pid (inside its pid namespace it is pid 1): the executor holds a pipe, never the
    server's own stderr, which may be a file or the journal's socket."""
    if stream is None:
        return
    while True:
        try:
            line = await stream.readline()
        except ValueError:  # a line past the reader's limit: what it has, then go on
            line = await stream.read(RELAY_LINE_BYTES) + b"\n"
        if not line:
            break
        sys.stderr.write(f"executor {pid} " + line[:RELAY_LINE_BYTES].decode(errors="replace").rstrip("\n") + "\n")
    sys.stderr.flush()


class ExecutorProcess:
    """One executor process and the requests in flight on it."""

    def __init__(
        self,
        index: int,
        cache_size: int,
        spares: int,
        memory_limit_mb: int,
        on_late_cpu: Callable[[tuple[str, ...], float], None] | None = None,
        jail: Jail | None = None,
        cordon: str | None = None,
    ) -> None:
        self.index = index
        self.cordon = cordon  # None: the shared executors
        self._jail = jail or Jail.unconfined()
        self._confined: Confined | None = None
        self._stderr: asyncio.Task[None] | None = None
        self._memory_limit_mb = memory_limit_mb
        self._cache_size = cache_size
        self._spares = spares
        self._on_late_cpu = on_late_cpu
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._blame: dict[int, Outcome] = {}
        self._listeners: dict[int, Callable[[dict[str, Any]], None]] = {}
        self._deadlines: dict[int, tuple[float, asyncio.TimerHandle]] = {}  # wall deadline, timer
        self.last_heard = time.monotonic()  # when the executor's last frame arrived
        self._warm: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        self.process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pidfd: int | None = None  # readable once the process has exited
        # Its stdin: our writer, and our own copy of the pipe's read end, never read from:
        # what is still in the pipe once it died is what it never read (`_never_read`).
        self._stdin: asyncio.StreamWriter | None = None
        self._stdin_copy: int | None = None
        self._written = 0  # bytes written to its stdin so far
        self._offsets: dict[int, int] = {}  # request id -> where its frame starts
        # Invocations that chose it and are loading their code (awaiting the store) before
        # they send: counted as in flight, or simultaneous cold ones all choose the same one.
        self.reserved = 0
        self._exit_poll: select.poll | None = None
        self.exited: asyncio.Event = asyncio.Event()
        self.retiring: asyncio.Event = asyncio.Event()  # it asked to be replaced
        self._available = True  # neither exited nor retiring (read for every invocation)

    @property
    def in_flight(self) -> int:
        """Requests on it, and those chosen for it still loading their code."""
        return len(self._pending) + self.reserved

    @property
    def pid(self) -> int | None:
        """The executor's own host pid (inside bubblewrap, when confined)."""
        return self._confined.pid if self._confined else None

    @property
    def available(self) -> bool:
        return self._available


    def is_warm(self, key: tuple[str, str, str]) -> bool:
        return key in self._warm

    def mark_warm(self, key: tuple[str, str, str]) -> None:
        self._warm[key] = None
        self._warm.move_to_end(key)
        while len(self._warm) > self._cache_size:
            self._warm.popitem(last=False)

    async def start(self) -> None:
        args = ["--cache-size", str(self._cache_size), "--spares", str(self._spares), "--memory-limit-mb", str(self._memory_limit_mb)]
        limits = executor_limits(self._cache_size, self._spares, self._memory_limit_mb)
        read_end, write_end = os.pipe()
        try:
            self._confined = await self._jail.spawn("isolane.sandbox.executor", args, slot=self.index, limits=limits, stdin=read_end)
            loop = asyncio.get_running_loop()
            transport, flow = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, os.fdopen(write_end, "wb", buffering=0))
        except BaseException:
            os.close(read_end)
            with contextlib.suppress(OSError):
                os.close(write_end)
            raise
        self._stdin = asyncio.StreamWriter(transport, flow, None, loop)
        self._stdin_copy = read_end
        self.process = self._confined.process
        self._stderr = asyncio.create_task(_relay(self.process.stderr, self._confined.pid), name=f"executor-{self.index}-stderr")
        self._reader = asyncio.create_task(self._read_replies(), name=f"executor-{self.index}-reader")
        self._watch_death()

    def _watch_death(self) -> None:
        """Know the moment the executor process exits (a pidfd turns readable then), not
        when its pipes close or it is reaped: bubblewrap holds copies of the pipes, and
        reaping waits for the child watcher. Requests arriving after that moment never
        reach it (they go elsewhere), instead of failing unsent."""
        assert self._confined is not None
        try:
            pidfd = os.pidfd_open(self._confined.pid)
        except (OSError, AttributeError):  # Linux < 5.3: the pipes and the reaper tell
            return
        loop = asyncio.get_running_loop()

        def died() -> None:
            self._available = False
            loop.remove_reader(pidfd)
            os.close(pidfd)
            self._pidfd = self._exit_poll = None

        self._pidfd = pidfd
        self._exit_poll = select.poll()
        self._exit_poll.register(pidfd, select.POLLIN)
        loop.add_reader(pidfd, died)

    def _has_exited(self) -> bool:
        """Whether the process has exited, asked of the kernel now (one poll(2) of its pidfd,
        ~1 us): the event loop may not have run `died` yet, when it is busy."""
        if self._pidfd is None or self._exit_poll is None:
            return False
        if self._exit_poll.poll(0):
            self._available = False
            return True
        return False

    async def _read_replies(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        try:
            while (reply := await protocol.read_message(self.process.stdout)) is not None:
                self.last_heard = time.monotonic()
                try:
                    self._handle(reply)
                except Exception as exc:  # noqa: BLE001 - one bad frame ends one request
                    log.exception("executor %s: a frame could not be handled", self.pid)
                    self._fail(reply.get("id"), MalformedFrame(str(exc)))
        except (protocol.ProtocolError, ValueError) as exc:
            log.error("executor %s sent a bad frame: %s", self.pid, exc)
            self.kill()
        except Exception:  # noqa: BLE001 - the reader must always reach its cleanup
            log.exception("executor %s: reading its frames failed", self.pid)
            self.kill()
        finally:
            # Its output ended: it is gone (or going). No new request may be sent to it while
            # the process is reaped (that took up to ~30 ms, and requests sent meanwhile
            # failed although they never ran).
            self._available = False
            with contextlib.suppress(ProcessLookupError):
                await self.process.wait()
            # A retired executor leaves cleanly once what it started has finished: a request
            # still pending then never reached it (sent before its `retiring` was read here).
            clean_exit = self.retiring.is_set() and self.process.returncode == 0
            # And a request whose frame it never read (it died first) never ran there either.
            unread_from = self._never_read()
            for request_id, future in list(self._pending.items()):
                if not future.done():
                    never_read = clean_exit or self._offsets.get(request_id, -1) >= unread_from
                    future.set_exception(Retry() if never_read else ExecutorLost(self._blame.get(request_id, Outcome.CANCELED)))
            self._pending.clear()
            self._available = False
            self.exited.set()

    def _handle(self, reply: dict[str, Any]) -> None:
        request_id = reply.get("id")
        event = reply.get("event")
        if event is not None:
            if event == "started":  # its deadline counts from now
                self._rearm(request_id)
            elif event == "late_cpu":
                self._late_cpu(reply)
            elif event == "alive":
                pass
            elif event == "retiring":
                log.warning("executor %s is retiring: %s", self.pid, str(reply.get("reason"))[:200])
                self._available = False
                self.retiring.set()
            else:  # news about a request still in flight
                listener = self._listeners.get(request_id)  # type: ignore[arg-type]
                if listener is not None:
                    listener(reply)
            return
        future = self._pending.pop(request_id, None)  # type: ignore[arg-type]
        if future is not None and not future.done():
            future.set_result(reply)

    def _late_cpu(self, reply: dict[str, Any]) -> None:
        key, cpu_ms = reply.get("key"), reply.get("cpu_ms")
        if self._on_late_cpu is None or not isinstance(key, list) or not isinstance(cpu_ms, (int, float)):
            return
        if len(key) == 3 and all(isinstance(part, str) for part in key) and 0 < cpu_ms < 86_400_000:
            self._on_late_cpu(tuple(key), float(cpu_ms))

    def _fail(self, request_id: Any, exc: Exception) -> None:
        """End request `request_id` with `exc` (the executor is told to drop it)."""
        future = self._pending.pop(request_id, None) if isinstance(request_id, int) else None
        if future is not None and not future.done():
            future.set_exception(exc)
            self.cancel(request_id)

    async def request(
        self,
        message: dict[str, Any],
        deadline: float,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        feed: AsyncIterator[bytes] | None = None,
        start_deadline: float | None = None,
    ) -> dict[str, Any]:
        """Send `message` and await its reply; past `deadline` seconds, kill the executor.
        If the executor may have to prepare an isolate first, `start_deadline` bounds that
        wait instead, and `deadline` counts from its `started` event. Events the executor
        sends about the request before replying go to `on_event`."""
        if not self.available or self.process is None or self._stdin is None or self._has_exited():
            raise Retry()  # never sent: another executor may take it
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        if on_event is not None:
            self._listeners[request_id] = lambda event: on_event(
                {
                    **event,
                    "ack": lambda size: self.acknowledge(request_id, size),
                    "cancel": lambda: self.cancel(request_id),
                    "answer": lambda call_id, ok, value: self._notify(
                        {"op": "answer", "id": request_id, "call": call_id, "ok": ok, "value": value}
                    ),
                }
            )
        try:
            self._offsets[request_id] = self._write(protocol.encode({**message, "id": request_id}))
        except (ConnectionError, RuntimeError) as exc:
            self._pending.pop(request_id, None)
            self._listeners.pop(request_id, None)
            raise Retry() from exc  # its pipe is closed: never sent
        feeding = asyncio.create_task(self._feed(request_id, feed)) if feed is not None else None
        # A plain timer rather than wait_for(shield(...)): this runs for every invocation.
        loop = asyncio.get_running_loop()
        if start_deadline is None:
            timer = loop.call_later(deadline, self._overdue, request_id, deadline)
        else:
            timer = loop.call_later(SILENCE_SECONDS, self._waiting, request_id, time.monotonic() + start_deadline)
        self._deadlines[request_id] = (deadline, timer)
        try:
            reply = await future  # raises ExecutorLost if the executor dies (or is killed)
        finally:
            entry = self._deadlines.pop(request_id, None)
            if entry is not None:
                entry[1].cancel()
            self._pending.pop(request_id, None)
            self._blame.pop(request_id, None)
            self._listeners.pop(request_id, None)
            self._offsets.pop(request_id, None)
            if feeding is not None:
                feeding.cancel()
        if reply.get("retry"):
            raise Retry()
        return reply

    def _rearm(self, request_id: Any) -> None:
        entry = self._deadlines.get(request_id)  # type: ignore[arg-type]
        if entry is None:
            return
        deadline, timer = entry
        timer.cancel()
        self._deadlines[request_id] = (deadline, asyncio.get_running_loop().call_later(deadline, self._overdue, request_id, deadline))

    def _waiting(self, request_id: int, give_up_at: float) -> None:
        """A request not started yet: fine while the executor is alive, up to `give_up_at`."""
        if request_id not in self._pending or request_id not in self._deadlines:
            return
        now = time.monotonic()
        silent = now - self.last_heard
        if silent > SILENCE_SECONDS or now > give_up_at:
            log.error("executor %s: a request waited to start (silent for %.1f s): killing it", self.pid, silent)
            self.kill()
            return
        deadline, _ = self._deadlines[request_id]
        timer = asyncio.get_running_loop().call_later(SILENCE_SECONDS, self._waiting, request_id, give_up_at)
        self._deadlines[request_id] = (deadline, timer)

    def _overdue(self, request_id: int, deadline: float) -> None:
        if request_id in self._pending:
            log.error("executor %s did not answer within %.1f s: killing it", self.pid, deadline)
            self._blame[request_id] = Outcome.EXCEEDED_WALL_TIME
            self.kill()

    async def _feed(self, request_id: int, chunks: AsyncIterator[bytes]) -> None:
        """Stream a request body to the executor: base64 pieces, then None."""
        error: str | None = None
        try:
            async for chunk in chunks:
                if self.exited.is_set() or self._stdin is None:
                    return
                self._write(protocol.encode({"op": "feed", "id": request_id, "chunk": b64encode(chunk).decode("ascii")}))
                await self._stdin.drain()
        except BodyError as exc:
            error = str(exc)
        if not self.exited.is_set() and self._stdin is not None:
            self._write(protocol.encode({"op": "feed", "id": request_id, "chunk": None, "error": error}))

    def acknowledge(self, request_id: int, size: int) -> None:
        """Tell the executor the client took `size` streamed bytes of request `request_id`."""
        self._notify({"op": "ack", "id": request_id, "bytes": size})

    def cancel(self, request_id: int) -> None:
        """End invocation `request_id` (its client went away): outcome canceled."""
        self._notify({"op": "cancel", "id": request_id})

    def _notify(self, message: dict[str, Any]) -> None:
        if self._stdin is not None and not self.exited.is_set():
            with contextlib.suppress(ConnectionError, RuntimeError):
                self._write(protocol.encode(message))

    def _write(self, frame: bytes) -> int:
        """Write a frame to its stdin; where in the stream it starts."""
        assert self._stdin is not None
        start = self._written
        self._stdin.write(frame)
        self._written += len(frame)
        return start

    def _never_read(self) -> int:
        """Where the part of its stdin it never read starts: once it is dead, the bytes left
        in the pipe and in our transport's buffer are what it never took."""
        if self._stdin_copy is None or self._stdin is None:
            return self._written
        waiting = array.array("i", [0])
        try:
            fcntl.ioctl(self._stdin_copy, termios.FIONREAD, waiting)
        except OSError:
            return self._written
        return self._written - waiting[0] - self._stdin.transport.get_write_buffer_size()

    def kill(self) -> None:
        if self._confined is not None and self.process is not None and self.process.returncode is None:
            self._confined.kill()

    async def stop(self, timeout: float = 5.0) -> None:
        if self._stdin is not None:
            self._stdin.close()
        if self.process is not None and self.process.returncode is None:
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                self.kill()
                await self.process.wait()
        if self._pidfd is not None:
            asyncio.get_running_loop().remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = self._exit_poll = None
        if self._stdin_copy is not None:
            os.close(self._stdin_copy)
            self._stdin_copy = None
        for task in (self._reader, self._stderr):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._confined is not None:
            await self._confined.release()

    async def retire(self, wall_seconds: float) -> None:
        """Wait for a retiring executor to finish what it runs and exit (it does so itself);
        past `wall_seconds` plus a grace, kill it."""
        try:
            await asyncio.wait_for(self.exited.wait(), wall_seconds + RETIRE_GRACE_SECONDS)
        except TimeoutError:
            log.error("retiring executor %s did not finish in time: killing it", self.pid)
            self.kill()
        await self.stop(timeout=1.0)


class Supervisor:
    def __init__(
        self,
        *,
        executors: int,
        cache_size: int,
        spares: int,
        executor_memory_mb: int = 2048,
        max_wall_ms: int = 30_000,
        sandbox: SandboxMode | Jail = SandboxMode.AUTO,
        cordons: dict[str, list[str]] | None = None,
        cordon_executors: int = 1,
    ) -> None:
        """`sandbox`: how executors are confined (probed at start), or a jail already probed.
        `cordons`: named groups of namespaces that get executors of their own
        (`cordon_executors` each), apart from the shared ones and from each other."""
        self._count = max(executors, 1)
        self._cordon_of = {namespace: name for name, namespaces in (cordons or {}).items() for namespace in namespaces}
        # The cordon of each executor slot, in index order: the shared ones first.
        self._slots: list[str | None] = [None] * self._count
        for name in cordons or {}:
            self._slots += [name] * max(cordon_executors, 1)
        self._sandbox = sandbox
        self.jail = sandbox if isinstance(sandbox, Jail) else None
        self._executor_memory_mb = executor_memory_mb
        self._cache_size = cache_size
        self._spares = spares
        self._max_wall_seconds = max_wall_ms / 1000
        self._executors: list[ExecutorProcess] = []
        self._retired: set[asyncio.Task[None]] = set()
        self._watchers: list[asyncio.Task[None]] = []
        self._stopping = False
        self.restarts = 0
        self.retirements = 0
        # CPU an isolate burnt after its invocation's reply, (namespace, script, version) and ms.
        self.on_late_cpu: Callable[[tuple[str, ...], float], None] | None = None

    def _new_executor(self, index: int) -> ExecutorProcess:
        return ExecutorProcess(
            index, self._cache_size, self._spares, self._executor_memory_mb, self._late_cpu, self.jail, self._slots[index]
        )

    def cordon(self, namespace: str) -> str | None:
        """The cordon whose executors run `namespace`'s code (None: the shared executors)."""
        return self._cordon_of.get(namespace)

    def _late_cpu(self, key: tuple[str, ...], cpu_ms: float) -> None:
        if self.on_late_cpu is not None:
            self.on_late_cpu(key, cpu_ms)

    @property
    def layers(self) -> Layers:
        """The confinement executors get (known once started)."""
        return self.jail.layers if self.jail is not None else Layers(SandboxMode.OFF)

    async def start(self) -> None:
        if self.jail is None:
            assert isinstance(self._sandbox, SandboxMode)
            self.jail = await asyncio.to_thread(Jail.probe, self._sandbox)
        for index in range(len(self._slots)):
            executor = self._new_executor(index)
            await executor.start()
            self._executors.append(executor)
            self._watchers.append(asyncio.create_task(self._keep_alive(index), name=f"executor-{index}-keeper"))

    async def stop(self) -> None:
        self._stopping = True
        for watcher in self._watchers:
            watcher.cancel()
        for watcher in self._watchers:
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        for retired in list(self._retired):
            retired.cancel()
        await asyncio.gather(*(executor.stop() for executor in self._executors), return_exceptions=True)

    async def _keep_alive(self, index: int) -> None:
        """Replace executor `index` whenever it exits or retires. Survives any failure: a
        pool without this keeper would shrink for good."""
        delay = 0.05
        while not self._stopping:
            try:
                executor = self._executors[index]
                exited = asyncio.ensure_future(executor.exited.wait())
                retiring = asyncio.ensure_future(executor.retiring.wait())
                try:
                    await asyncio.wait({exited, retiring}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    exited.cancel()
                    retiring.cancel()
                if self._stopping:
                    return
                replacement = self._new_executor(index)
                await replacement.start()
                self._executors[index] = replacement
                if not executor.retiring.is_set():
                    code = executor.process.returncode if executor.process else None
                    log.warning("executor %s exited (code %s); replaced by %s", executor.pid, code, replacement.pid)
                    self.restarts += 1
                    await executor.stop(timeout=0.5)
                else:  # retiring (it may have finished and left already): not a failure
                    log.warning("executor %s retires; replaced by %s", executor.pid, replacement.pid)
                    self.retirements += 1
                    task = asyncio.create_task(executor.retire(self._max_wall_seconds), name=f"executor-{executor.pid}-retiring")
                    self._retired.add(task)
                    task.add_done_callback(self._retired.discard)
                delay = 0.05
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001
                log.exception("replacing executor %s failed; retrying in %.1f s", index, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RESTART_DELAY)

    def alive(self) -> int:
        """How many executor processes are running now (retiring ones not counted)."""
        return sum(1 for e in self._executors if e.available and e.process is not None and e.process.returncode is None)

    def _choose(self, key: tuple[str, str, str] | None, avoid: set[int] | None = None, cordon: str | None = None) -> ExecutorProcess:
        """The executor for `key`: one of its cordon's, never another's, warm if that one is
        not much busier than the least busy."""
        mine = [e for e in self._executors if e.cordon == cordon]
        live = [e for e in mine if e._available and (not avoid or id(e) not in avoid)]
        if not live:
            live = [e for e in mine if e._available] or mine
        least = min(live, key=lambda e: e.in_flight)
        if key is not None:
            warm = [e for e in live if e.is_warm(key)]
            if warm:
                best = min(warm, key=lambda e: e.in_flight)
                if best.in_flight < least.in_flight + SPILLOVER_MARGIN:
                    return best
        return least

    async def invoke(
        self,
        ref: ScriptRef,
        limits: Limits,
        load_code: Callable[[], Awaitable[ScriptCode]],
        call: dict[str, Any] | None = None,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        body: AsyncIterator[bytes] | None = None,
    ) -> ExecutionResult:
        """Run `call` (default: a seed run) on `ref`. A fetch handler's response head and
        streamed body chunks go to `on_event` as they come, before the invocation ends
        (`{"event": "response", "response", "cancel"}`, `{"event": "chunk", "chunks", "ack"}`,
        chunks in base64; `cancel()` ends the invocation (its client went away); calling
        `ack(size)` once the client took a chunk lets more flow). A request `body` given as
        an iterator streams to the handler while it runs (`call["stream"]`)."""
        message: dict[str, Any] = {
            "op": "invoke",
            "key": list(ref.key),
            "kind": ref.kind,
            "name": f"{ref.script}.js",
            "limits": limits.to_wire(),
            "call": call or {"op": "run"},
        }
        deadline = limits.wall_ms / 1000 + DEADLINE_GRACE_SECONDS
        tried: set[int] = set()
        cordon = self._cordon_of.get(ref.namespace)
        for attempt in range(RETRIES + 1):
            executor = self._choose(ref.key, tried, cordon) if attempt == 0 else await self._another(ref.key, tried, cordon)
            tried.add(id(executor))
            try:
                # A streamed body can be sent once only: then the code always goes along.
                warm = executor.is_warm(ref.key)
                if body is not None or not warm:
                    executor.reserved += 1
                    try:
                        _attach(message, await load_code())
                    finally:
                        executor.reserved -= 1
                start = None if warm else START_DEADLINE_SECONDS
                reply = await executor.request(message, deadline, on_event, body, start)
                if reply.get("need_code"):
                    _attach(message, await load_code())
                    reply = await executor.request(message, deadline, on_event, None, START_DEADLINE_SECONDS)
            except Retry:
                if attempt < RETRIES and body is None:
                    continue
                log.warning("invocation of %s canceled: no executor took it (%d retiring)", "/".join(ref.key[:2]), len(tried))
                return ExecutionResult(outcome=Outcome.CANCELED, error=dict(_CANCELED_ERROR))
            except ExecutorLost as lost:
                return ExecutionResult(outcome=lost.outcome, error=_lost_error(lost.outcome, limits))
            except MalformedFrame as exc:
                log.error("executor %s: invocation of %s ended: %s", executor.pid, "/".join(ref.key[:2]), exc)
                return ExecutionResult(outcome=Outcome.EXCEPTION, error=dict(_MALFORMED_ERROR))
            break
        if "outcome" not in reply:
            log.error("executor %s refused an invocation: %s", executor.pid, str(reply.get("error"))[:200])
            return ExecutionResult(outcome=Outcome.CANCELED, error=dict(_CANCELED_ERROR))
        try:
            result = ExecutionResult.from_reply(reply)
        except MalformedFrame as exc:
            log.error("executor %s: invocation of %s ended: %s", executor.pid, "/".join(ref.key[:2]), exc)
            return ExecutionResult(outcome=Outcome.EXCEPTION, error=dict(_MALFORMED_ERROR))
        executor.mark_warm(ref.key)
        if on_event is not None:  # what the final state held comes with the reply
            try:
                if reply.get("response") is not None:
                    on_event({"event": "response", "response": reply["response"], "cancel": _ended})
                if reply.get("chunks"):
                    on_event({"event": "chunk", "chunks": reply["chunks"], "ack": _ended})
            except Exception:  # noqa: BLE001 - a bad head ends this invocation, nothing else
                log.exception("invocation of %s: its response could not be used", "/".join(ref.key[:2]))
                return ExecutionResult(outcome=Outcome.EXCEPTION, error=dict(_MALFORMED_ERROR), cpu_ms=result.cpu_ms, wall_ms=result.wall_ms)
        return result

    async def _another(self, key: tuple[str, str, str], tried: set[int], cordon: str | None) -> ExecutorProcess:
        """An available executor of the cordon not tried yet; when every one has just
        retired, wait (briefly) for a replacement rather than fail the invocation."""
        deadline = asyncio.get_running_loop().time() + REPLACEMENT_WAIT_SECONDS
        while not any(e.available and id(e) not in tried and e.cordon == cordon for e in self._executors):
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.02)
        return self._choose(key, tried, cordon)

    async def check(self, code: str, namespace: str | None = None) -> CheckResult:
        """Compile `code` in an executor (of the namespace's cordon) without running it."""
        for _ in range(3):  # retries if the executor died or retired under us
            executor = self._choose(None, cordon=self.cordon(namespace) if namespace else None)
            try:
                reply = await executor.request({"op": "check", "code": code}, CHECK_DEADLINE_SECONDS)
            except (ExecutorLost, Retry):
                continue
            return CheckResult(
                ok=bool(reply.get("ok")),
                message=str(reply.get("message") or ""),
                line=reply.get("line"),
                column=reply.get("column"),
            )
        return CheckResult(ok=False, message="the script could not be checked: executor unavailable")

    async def stats(self) -> list[dict[str, Any]]:
        async def one(executor: ExecutorProcess) -> dict[str, Any]:
            base = {"index": executor.index, "pid": executor.pid, "in_flight": executor.in_flight, "cordon": executor.cordon}
            try:
                reply = await executor.request({"op": "stats"}, 5.0)
            except (ExecutorLost, Retry, MalformedFrame):
                return {**base, "alive": False}
            # Only the figures it is asked for, as plain ints: nothing else it says is passed on.
            told = {name: reply[name] for name in STATS_FIELDS if type(reply.get(name)) is int}
            return {**told, **base, "alive": True}

        return list(await asyncio.gather(*(one(e) for e in list(self._executors))))


def _ended(*_: Any) -> None:
    """Acknowledging or cancelling an invocation that has already ended: nothing to do."""


def _attach(message: dict[str, Any], code: ScriptCode) -> None:
    message["code"] = code.code
    if code.env is not None:
        message["env"] = code.env
    if code.bindings:
        message["bindings"] = code.bindings


def _lost_error(outcome: Outcome, limits: Limits) -> dict[str, Any]:
    if outcome is Outcome.EXCEEDED_WALL_TIME:
        return {"name": "Error", "message": f"Worker exceeded wall-clock time limit of {limits.wall_ms} ms.", "stack": None}
    return dict(_CANCELED_ERROR)


def default_executor_count() -> int:
    return max(os.cpu_count() or 1, 1)
