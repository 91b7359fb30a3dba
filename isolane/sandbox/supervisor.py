"""The supervisor: runs executor processes for the server and routes invocations to them.

Executors get a scrubbed environment, an empty working directory and no access to the
server's data: code travels to them in the request. An invocation goes to an executor that
already has the script warm, unless that one is clearly busier than another. If an
executor dies it is replaced; what was in flight there ends with outcome `canceled`. If an
executor fails to answer well past an invocation's wall-clock limit (its own watchdog
failed), it is killed: that invocation ends `exceededWallTime`, the rest `canceled`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections import OrderedDict
from base64 import b64encode
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from isolane.sandbox import protocol
from isolane.sandbox.limits import Limits
from isolane.sandbox.outcomes import Outcome

log = logging.getLogger(__name__)

DEADLINE_GRACE_SECONDS = 3.0  # beyond the wall-clock limit, before the supervisor steps in
CHECK_DEADLINE_SECONDS = 15.0
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

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.namespace, self.script, f"{self.version}~{self.variant}" if self.variant else self.version)


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
        return cls(
            outcome=Outcome(reply["outcome"]),
            result=reply.get("result"),
            error=reply.get("error"),
            logs=reply.get("logs") or [],
            cpu_ms=float(reply.get("cpu_ms") or 0.0),
            wall_ms=float(reply.get("wall_ms") or 0.0),
            cold=bool(reply.get("cold")),
        )


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


_CANCELED_ERROR = {"name": "Error", "message": "The invocation was canceled by the platform.", "stack": None}


def executor_environment() -> dict[str, str]:
    """The whole environment an executor gets: nothing of the server's."""
    package_root = Path(__file__).resolve().parents[2]
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(package_root),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }


class ExecutorProcess:
    """One executor process and the requests in flight on it."""

    def __init__(self, index: int, cache_size: int, spares: int, memory_limit_mb: int) -> None:
        self.index = index
        self._memory_limit_mb = memory_limit_mb
        self._cache_size = cache_size
        self._spares = spares
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._blame: dict[int, Outcome] = {}
        self._listeners: dict[int, Callable[[dict[str, Any]], None]] = {}
        self._warm: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        self.process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._workdir: str | None = None
        self.exited: asyncio.Event = asyncio.Event()

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def is_warm(self, key: tuple[str, str, str]) -> bool:
        return key in self._warm

    def mark_warm(self, key: tuple[str, str, str]) -> None:
        self._warm[key] = None
        self._warm.move_to_end(key)
        while len(self._warm) > self._cache_size:
            self._warm.popitem(last=False)

    async def start(self) -> None:
        self._workdir = tempfile.mkdtemp(prefix="isolane-executor-")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-s",
            "-m",
            "isolane.sandbox.executor",
            "--cache-size",
            str(self._cache_size),
            "--spares",
            str(self._spares),
            "--memory-limit-mb",
            str(self._memory_limit_mb),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=executor_environment(),
            cwd=self._workdir,
            start_new_session=True,
            close_fds=True,
        )
        self._reader = asyncio.create_task(self._read_replies(), name=f"executor-{self.index}-reader")

    async def _read_replies(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        try:
            while (reply := await protocol.read_message(self.process.stdout)) is not None:
                if "event" in reply:  # news about a request still in flight
                    listener = self._listeners.get(reply.get("id"))
                    if listener is not None:
                        listener(reply)
                    continue
                future = self._pending.pop(reply.get("id"), None)
                if future is not None and not future.done():
                    future.set_result(reply)
        except (protocol.ProtocolError, ValueError) as exc:
            log.error("executor %s sent a bad frame: %s", self.pid, exc)
            self.kill()
        finally:
            with contextlib.suppress(ProcessLookupError):
                await self.process.wait()
            for request_id, future in list(self._pending.items()):
                if not future.done():
                    future.set_exception(ExecutorLost(self._blame.get(request_id, Outcome.CANCELED)))
            self._pending.clear()
            self.exited.set()

    async def request(
        self,
        message: dict[str, Any],
        deadline: float,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        feed: AsyncIterator[bytes] | None = None,
    ) -> dict[str, Any]:
        """Send `message` and await its reply; past `deadline` seconds, kill the executor.
        Events the executor sends about the request before replying go to `on_event`."""
        if self.exited.is_set() or self.process is None or self.process.stdin is None:
            raise ExecutorLost(Outcome.CANCELED)
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
            self.process.stdin.write(protocol.encode({**message, "id": request_id}))
        except (ConnectionError, RuntimeError) as exc:
            self._pending.pop(request_id, None)
            self._listeners.pop(request_id, None)
            raise ExecutorLost(Outcome.CANCELED) from exc
        feeding = asyncio.create_task(self._feed(request_id, feed)) if feed is not None else None
        # A plain timer rather than wait_for(shield(...)): this runs for every invocation.
        overdue = asyncio.get_running_loop().call_later(deadline, self._overdue, request_id, deadline)
        try:
            return await future  # raises ExecutorLost if the executor dies (or is killed)
        finally:
            overdue.cancel()
            self._pending.pop(request_id, None)
            self._blame.pop(request_id, None)
            self._listeners.pop(request_id, None)
            if feeding is not None:
                feeding.cancel()

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
                if self.exited.is_set() or self.process is None or self.process.stdin is None:
                    return
                self.process.stdin.write(protocol.encode({"op": "feed", "id": request_id, "chunk": b64encode(chunk).decode("ascii")}))
                await self.process.stdin.drain()
        except BodyError as exc:
            error = str(exc)
        if not self.exited.is_set() and self.process is not None and self.process.stdin is not None:
            self.process.stdin.write(protocol.encode({"op": "feed", "id": request_id, "chunk": None, "error": error}))

    def acknowledge(self, request_id: int, size: int) -> None:
        """Tell the executor the client took `size` streamed bytes of request `request_id`."""
        self._notify({"op": "ack", "id": request_id, "bytes": size})

    def cancel(self, request_id: int) -> None:
        """End invocation `request_id` (its client went away): outcome canceled."""
        self._notify({"op": "cancel", "id": request_id})

    def _notify(self, message: dict[str, Any]) -> None:
        if self.process is not None and self.process.stdin is not None and not self.exited.is_set():
            with contextlib.suppress(ConnectionError, RuntimeError):
                self.process.stdin.write(protocol.encode(message))

    def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGKILL)

    async def stop(self, timeout: float = 5.0) -> None:
        if self.process is not None and self.process.returncode is None:
            if self.process.stdin is not None:
                self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                self.kill()
                await self.process.wait()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)


class Supervisor:
    def __init__(self, *, executors: int, cache_size: int, spares: int, executor_memory_mb: int = 2048) -> None:
        self._count = max(executors, 1)
        self._executor_memory_mb = executor_memory_mb
        self._cache_size = cache_size
        self._spares = spares
        self._executors: list[ExecutorProcess] = []
        self._watchers: list[asyncio.Task[None]] = []
        self._stopping = False
        self.restarts = 0

    async def start(self) -> None:
        for index in range(self._count):
            executor = ExecutorProcess(index, self._cache_size, self._spares, self._executor_memory_mb)
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
        await asyncio.gather(*(executor.stop() for executor in self._executors), return_exceptions=True)

    async def _keep_alive(self, index: int) -> None:
        """Replace executor `index` whenever it exits."""
        delay = 0.05
        while not self._stopping:
            executor = self._executors[index]
            await executor.exited.wait()
            if self._stopping:
                return
            code = executor.process.returncode if executor.process else None
            log.warning("executor %s exited (code %s); starting a replacement", executor.pid, code)
            await executor.stop(timeout=0.5)
            self.restarts += 1
            replacement = ExecutorProcess(index, self._cache_size, self._spares, self._executor_memory_mb)
            try:
                await replacement.start()
            except OSError:
                log.exception("could not start an executor; retrying in %.1f s", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RESTART_DELAY)
                continue
            self._executors[index] = replacement
            delay = 0.05

    def alive(self) -> int:
        """How many executor processes are running now."""
        return sum(
            1
            for e in self._executors
            if not e.exited.is_set() and e.process is not None and e.process.returncode is None
        )

    def _choose(self, key: tuple[str, str, str] | None) -> ExecutorProcess:
        live = [e for e in self._executors if not e.exited.is_set()] or self._executors
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
        executor = self._choose(ref.key)
        message: dict[str, Any] = {
            "op": "invoke",
            "key": list(ref.key),
            "kind": ref.kind,
            "name": f"{ref.script}.js",
            "limits": limits.to_wire(),
            "call": call or {"op": "run"},
        }

        deadline = limits.wall_ms / 1000 + DEADLINE_GRACE_SECONDS
        try:
            # A streamed body can be sent once only: then the code always goes along.
            if body is not None or not executor.is_warm(ref.key):
                _attach(message, await load_code())
            reply = await executor.request(message, deadline, on_event, body)
            if reply.get("need_code"):
                _attach(message, await load_code())
                reply = await executor.request(message, deadline, on_event)
        except ExecutorLost as lost:
            return ExecutionResult(outcome=lost.outcome, error=_lost_error(lost.outcome, limits))
        if "outcome" not in reply:
            log.error("executor %s refused an invocation: %s", executor.pid, reply.get("error"))
            return ExecutionResult(outcome=Outcome.CANCELED, error=dict(_CANCELED_ERROR))
        executor.mark_warm(ref.key)
        if on_event is not None:  # what the final state held comes with the reply
            if reply.get("response") is not None:
                on_event({"event": "response", "response": reply["response"], "cancel": _ended})
            if reply.get("chunks"):
                on_event({"event": "chunk", "chunks": reply["chunks"], "ack": _ended})
        return ExecutionResult.from_reply(reply)

    async def check(self, code: str) -> CheckResult:
        """Compile `code` in an executor without running it."""
        for _ in range(2):  # one retry if the executor died under us
            executor = self._choose(None)
            try:
                reply = await executor.request({"op": "check", "code": code}, CHECK_DEADLINE_SECONDS)
            except ExecutorLost:
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
            base = {"index": executor.index, "pid": executor.pid, "in_flight": executor.in_flight}
            try:
                reply = await executor.request({"op": "stats"}, 5.0)
            except ExecutorLost:
                return {**base, "alive": False}
            reply.pop("id", None)
            return {**base, **reply, "alive": True}

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
