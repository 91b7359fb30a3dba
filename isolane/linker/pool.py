"""The server's link workers: uploads are linked in worker processes (linker/worker.py), a
few at a time, each under a time bound, never on the event loop.

Why processes: the link step of a 10 MB upload is seconds of CPU that holds the GIL
(tree-sitter parses without releasing it, and the rest is Python); in the server's process
it froze every other request for ~20 s, and a thread would not have helped. A worker also
takes a crash or a memory blow-up of the parser on hostile input away from the server.

The rules (docs/scripts.md, "Limits of the link step"):
- `workers` processes link at once; one namespace may use at most `workers - 1` of them
  (all of them when there is only one), so a tenant that uploads many large scripts at once
  leaves a worker for everybody else.
- An upload waits for a worker at most `timeout` seconds; the uploads waiting may total
  `MAX_WAITING_BYTES` (`MAX_WAITING_BYTES_PER_NAMESPACE` per namespace, though one upload
  may always wait) and number `MAX_WAITING`; beyond that it is refused at once with 503
  `link_busy` and `Retry-After` (retrying helps: the server was busy, not the upload bad).
- A job that runs past `timeout` seconds is killed with its process group (Bun included),
  and the upload refused with 400 `script_link_timeout`; a worker that dies on a job (out
  of its `memory_mb`, or a crash) gives 400 `link_failed`. Either way nothing was stored.
- Workers are started when needed and kept; one that linked a large upload is replaced
  (its memory goes back to the system).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

import isolane
from isolane.errors import BadRequest, Unavailable
from isolane.linker import wire
from isolane.linker.errors import LinkError
from isolane.linker.link import LinkedScript
from isolane.linker.modules import Module

log = logging.getLogger(__name__)
_CODE_ROOT = str(Path(isolane.__file__).resolve().parent.parent)

DEFAULT_WORKERS = 2
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_MEMORY_MB = 2048
# Waiting is bounded in bytes (what the waiting uploads will cost to link), so that a
# pipeline deploying dozens of small scripts at once waits (each links in ~30 ms) while a
# tenant queues only a few large ones; and in count, as a last bound.
MAX_WAITING_BYTES = 160 << 20
MAX_WAITING_BYTES_PER_NAMESPACE = 40 << 20
MAX_WAITING = 256
RETRY_AFTER_SECONDS = 5
RECYCLE_AFTER_BYTES = 1 << 20  # a worker that linked more than this at once is replaced
RECYCLE_AFTER_JOBS = 1000
# A linked script and its map are larger than the upload (a data module's base64, the
# map's checkpoints): what a worker may answer, per byte uploaded, plus a constant.
RESULT_BYTES_PER_INPUT_BYTE = 8
RESULT_BYTES_EXTRA = 16 << 20


class LinkBusy(Unavailable):
    """503 with Retry-After: every link worker is taken and the queue is full (or the wait
    ran out), or (`link_unavailable`) a worker could not be started or the bundler run."""

    code = "link_busy"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message, code=code, retry_after=RETRY_AFTER_SECONDS)


class WorkerLost(Exception):
    """The worker died, or said something it should not have."""


def _read_exactly(stream: BinaryIO, size: int) -> memoryview:
    """`size` bytes read straight into one buffer (the read releases the GIL)."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    done = 0
    while done < size:
        count = stream.readinto(view[done:])
        if not count:
            raise WorkerLost("the worker's output ended")
        done += count
    return view


@dataclass(eq=False)
class _Worker:
    """One worker process. Its pipes are used from a thread of the pool's own: moving tens of
    MB through them (and decoding the script) stays off the event loop."""

    process: subprocess.Popen[bytes]
    jobs: int = 0

    def run(self, request: bytes, expected_modules: list[str], result_limit: int) -> wire.Outcome:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        try:
            view = memoryview(request)
            while view:  # an unbuffered write may take part of it
                view = view[stdin.write(view) or 0 :]
            header = orjson.loads(_read_exactly(stdout, wire.header_length(bytes(_read_exactly(stdout, wire.PREFIX)))))
            if not isinstance(header, dict):
                raise wire.ProtocolError("a header that is no object")
            payload = _read_exactly(stdout, wire.result_payload_size(header, result_limit))
            return wire.read_result(header, payload, expected_modules)
        except (OSError, ValueError, orjson.JSONDecodeError, wire.ProtocolError) as exc:
            raise WorkerLost(str(exc) or type(exc).__name__) from exc

    def kill(self) -> None:
        """The worker and everything it started (its process group: Bun too)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def reap(self) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)


@dataclass(eq=False)
class _Waiter:
    namespace: str
    size: int
    granted: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class LinkPool:
    """Links uploads in worker processes; see the module's docstring for the rules."""

    def __init__(
        self, workers: int = DEFAULT_WORKERS, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS, memory_mb: int = DEFAULT_MEMORY_MB
    ) -> None:
        self.workers = max(1, workers)
        self.timeout_seconds = timeout_seconds
        self.memory_mb = memory_mb
        self._per_namespace = max(1, self.workers - 1)
        self._idle: list[_Worker] = []
        self._running: Counter[str] = Counter()
        self._active = 0
        self._waiting: deque[_Waiter] = deque()
        self._reaping: set[asyncio.Future[Any]] = set()
        self._closed = False
        # Threads that talk to the workers: one per worker at most, plus one for a spawn.
        self._threads = ThreadPoolExecutor(self.workers + 1, thread_name_prefix="isolane-link")

    async def start(self) -> None:
        """Start one worker ahead of the first upload (in the background)."""
        task = asyncio.get_running_loop().create_task(self._warm())
        self._reaping.add(task)
        task.add_done_callback(self._reaping.discard)

    async def _warm(self) -> None:
        with contextlib.suppress(OSError):
            worker = await self._spawn()
            if self._closed:
                self._retire(worker)
            else:
                self._idle.append(worker)

    async def link(self, namespace: str, modules: list[Module], main: str) -> LinkedScript:
        """Link `modules` in a worker, or raise LinkError (400), LinkBusy (503)."""
        await self._acquire(namespace, sum(len(module.content) for module in modules))
        try:
            return await self._link(modules, main)
        finally:
            self._release(namespace)

    async def close(self) -> None:
        self._closed = True
        for worker in self._idle:
            self._retire(worker)
        self._idle.clear()
        for waiter in self._waiting:
            if not waiter.granted.done():
                waiter.granted.set_exception(LinkBusy("the server is shutting down"))
        if self._reaping:
            await asyncio.wait(list(self._reaping), timeout=5)
        self._threads.shutdown(wait=False, cancel_futures=True)

    # ---- admission: a few at a time, fair between namespaces, bounded waiting

    def _may_run(self, namespace: str) -> bool:
        return self._active < self.workers and self._running[namespace] < self._per_namespace

    def _grant(self, namespace: str) -> None:
        self._active += 1
        self._running[namespace] += 1

    async def _acquire(self, namespace: str, size: int) -> None:
        if self._closed:
            raise LinkBusy("the server is shutting down")
        # Waiters that could run have been granted already (_wake): those left wait for
        # their namespace's share, so only this namespace's own waiters go first.
        here = [waiter for waiter in self._waiting if waiter.namespace == namespace]
        if not here and self._may_run(namespace):
            self._grant(namespace)
            return
        waiting_bytes = sum(waiter.size for waiter in self._waiting) + size
        if (
            len(self._waiting) >= MAX_WAITING
            or (self._waiting and waiting_bytes > MAX_WAITING_BYTES)
            or (here and sum(waiter.size for waiter in here) + size > MAX_WAITING_BYTES_PER_NAMESPACE)
        ):
            raise LinkBusy(f"too many uploads are waiting to be linked ({self.workers} at a time): try again")
        waiter = _Waiter(namespace, size)
        self._waiting.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter.granted), self.timeout_seconds)
        except TimeoutError:
            self._abandon(waiter)
            raise LinkBusy(f"no link worker was free within {self.timeout_seconds:g} s: try again") from None
        except asyncio.CancelledError:
            self._abandon(waiter)
            raise

    def _abandon(self, waiter: _Waiter) -> None:
        with contextlib.suppress(ValueError):
            self._waiting.remove(waiter)
        granted = waiter.granted
        if granted.done() and not granted.cancelled() and granted.exception() is None:
            self._release(waiter.namespace)  # granted just as the wait ended: give it back
        else:
            granted.cancel()

    def _release(self, namespace: str) -> None:
        self._active -= 1
        self._running[namespace] -= 1
        if self._running[namespace] <= 0:
            del self._running[namespace]
        self._wake()

    def _wake(self) -> None:
        """Grant free workers to the waiters, first come first served among the namespaces
        that may run."""
        for waiter in list(self._waiting):
            if self._active >= self.workers:
                return
            if waiter.granted.done():
                self._waiting.remove(waiter)
            elif self._running[waiter.namespace] < self._per_namespace:
                self._waiting.remove(waiter)
                self._grant(waiter.namespace)
                waiter.granted.set_result(None)

    # ---- one job

    async def _link(self, modules: list[Module], main: str) -> LinkedScript:
        size = sum(len(module.content) for module in modules)
        request = wire.job(modules, main)
        names = [module.name for module in modules]
        result_limit = RESULT_BYTES_PER_INPUT_BYTE * size + RESULT_BYTES_EXTRA
        worker: _Worker | None = None
        answered = False
        try:
            async with asyncio.timeout(self.timeout_seconds):
                worker = self._idle.pop() if self._idle else await self._spawn()
                loop = asyncio.get_running_loop()
                # On a timeout or a cancel the thread stays blocked on the pipe until the
                # kill below closes it.
                outcome = await loop.run_in_executor(self._threads, worker.run, request, names, result_limit)
            answered = True
        except TimeoutError:
            raise BadRequest(
                f"the upload could not be linked within {self.timeout_seconds:g} s (the link step's time bound);"
                " nothing was changed: upload fewer or smaller modules",
                code="script_link_timeout",
                limit_seconds=self.timeout_seconds,
            ) from None
        except WorkerLost as exc:
            log.warning("a link worker was lost on an upload of %d bytes: %s", size, exc)
            raise LinkError(
                f"the upload could not be linked: the link step ran out of memory ({self.memory_mb} MiB) or failed on it;"
                " nothing was changed",
                code="link_failed",
            ) from None
        except OSError as exc:
            log.error("a link worker could not be started: %s", exc)
            raise LinkBusy("the link step is unavailable: try again", code="link_unavailable") from exc
        finally:
            # A worker that did not answer (overran, died, or its request was cancelled
            # mid-job) is in an unknown state: it goes, with whatever it started.
            if worker is not None:
                worker.jobs += 1
                if not (answered and self._idle_again(worker, size)):
                    self._retire(worker)
        if outcome.unavailable is not None:
            log.error("a link worker could not link: %s", outcome.unavailable)
            raise LinkBusy("the link step is unavailable: try again", code="link_unavailable")
        if outcome.error is not None:
            raise outcome.error
        assert outcome.script is not None
        return outcome.script

    def _idle_again(self, worker: _Worker, size: int) -> bool:
        """Keep a worker for the next job unless it linked a large upload (its memory goes
        back to the system with it) or enough are kept already."""
        if self._closed or size > RECYCLE_AFTER_BYTES or worker.jobs >= RECYCLE_AFTER_JOBS or len(self._idle) >= self.workers:
            return False
        self._idle.append(worker)
        return True

    async def _spawn(self) -> _Worker:
        # The worker runs the server's own code, wherever that was imported from (an
        # installed package, or a checkout the server was started in).
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", "PYTHONPATH": _CODE_ROOT}
        command = [sys.executable, "-m", "isolane.linker.worker", "--memory-mb", str(self.memory_mb)]

        def start() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
                cwd="/",
                start_new_session=True,  # its own process group, which a kill takes whole
                bufsize=0,
            )

        return _Worker(await asyncio.get_running_loop().run_in_executor(self._threads, start))

    def _retire(self, worker: _Worker) -> None:
        worker.kill()
        reaped = asyncio.get_running_loop().run_in_executor(None, worker.reap)
        self._reaping.add(reaped)
        reaped.add_done_callback(self._reaping.discard)
