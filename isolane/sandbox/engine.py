"""One V8 isolate on its own native thread, driven without ever blocking the caller.

This is the only module that touches mini-racer. Once an isolate is running, it uses only
calls that cannot block on the isolate's thread: evaluation is a task posted to that thread
whose result comes back through a C callback, and the isolate's "doorbell" (a JS function
that pings Python) carries no data. A wedged isolate therefore never freezes the executor's
event loop (ENGINE.md trap 1); it can only be closed from outside.

mini-racer's public `MiniRacer` class starts an asyncio loop thread per context and installs
its own setTimeout (trap 7); we use its lower layer (`init_mini_racer` and the ctypes
library it returns, pinned at 0.14.1) so that we own the loop, the timers and the globals.
"""

from __future__ import annotations

import asyncio
import ctypes
import threading
import time
from collections.abc import Callable
from itertools import count
from typing import Any

from py_mini_racer import init_mini_racer
from py_mini_racer._dll import mr_callback_func  # pinned: mini-racer==0.14.1

# Value type tags of mini-racer's C ABI (mini_racer.h).
_NULL, _BOOL, _INT, _DOUBLE, _STR, _UNDEFINED = 1, 2, 3, 4, 5, 11
_EXECUTE_EXC, _PARSE_EXC, _OOM_EXC, _TIMEOUT_EXC, _TERMINATED_EXC = 200, 201, 202, 203, 204
_VALUE_EXC, _KEY_EXC = 205, 206

_DOORBELL_ID = 1
_V8_FLAGS = (
    # No V8 worker threads: all of an isolate's CPU is its thread's.
    "--single-threaded",
    # On CPUs with protection keys (PKU), V8 guards JIT pages with them; disposing of an
    # isolate while another thread runs optimized code then segfaults the process (seen with
    # V8 14.4 under mini-racer 0.14.1 whenever a close overlapped a hot loop elsewhere).
    "--no-memory-protection-keys",
)

_dll: Any = None
_dll_lock = threading.Lock()
_creation_lock = threading.Lock()


def _library() -> Any:
    global _dll
    with _dll_lock:
        if _dll is None:
            _dll = init_mini_racer(flags=_V8_FLAGS, ignore_duplicate_init=True)
        return _dll


class _V8:
    """The few V8 API functions we call directly: mini-racer's library exports V8's own
    symbols, and its C interface reports no memory outside the JavaScript heap."""

    def __init__(self, dll: Any) -> None:
        # Loaded as a PyDLL: these are a thread-local and an atomic read, so calling them
        # keeps the GIL (a CDLL call releases and retakes it: a thread switch on the
        # executor's hot path).
        dll = ctypes.PyDLL(dll._name)
        # v8::Isolate* v8::Isolate::TryGetCurrent(): the isolate entered on this thread.
        self._current = dll._ZN2v87Isolate13TryGetCurrentEv
        self._current.argtypes = []
        self._current.restype = ctypes.c_void_p
        # ExternalMemoryAccounter::GetTotalAmountOfExternalAllocatedMemoryForTesting(const
        # v8::Isolate*): the isolate's external-memory counter (ArrayBuffer backing stores,
        # WebAssembly memories), an atomic that any thread may read.
        self._external = dll._ZN2v823ExternalMemoryAccounter49GetTotalAmountOfExternalAllocatedMemoryForTestingEPKNS_7IsolateE
        self._external.argtypes = [ctypes.c_void_p]
        self._external.restype = ctypes.c_int64

    def current_isolate(self) -> int | None:
        return self._current()

    def external_bytes(self, isolate: int) -> int:
        return max(int(self._external(isolate)), 0)


_v8_api: _V8 | None = None


def _v8() -> _V8:
    global _v8_api
    if _v8_api is None:
        _v8_api = _V8(_library())
    return _v8_api


class ScriptError(Exception):
    """JavaScript threw, or failed to parse, outside any handler of ours."""

    def __init__(self, message: str, *, parse: bool = False) -> None:
        super().__init__(message)
        self.parse = parse


class OutOfMemory(Exception):
    """The isolate hit its hard heap limit; it must not be used again (trap 9)."""


class Terminated(Exception):
    """Execution was terminated (the isolate is being closed)."""


class ResultTooLarge(Exception):
    """An evaluation returned a string over the isolate's `max_result_bytes`: not copied."""


# An engine error's message is the script's to choose (`throw "x".repeat(1e8)`): kept short.
_MAX_ERROR_MESSAGE_BYTES = 64 * 1024


def _decode(raw: Any, max_bytes: int | None = None) -> Any:
    """Turn a primitive mini-racer value into Python; raise for its error values. A string
    longer than `max_bytes` is refused before it is copied out of the engine."""
    contents = raw.contents
    typ = contents.type
    if typ == _STR:
        if max_bytes is not None and contents.len > max_bytes:
            raise ResultTooLarge(f"a result of {contents.len} bytes is over the limit of {max_bytes}")
        return contents.value.bytes_val[0 : contents.len].decode("utf-8")
    if typ in (_NULL, _UNDEFINED):
        return None
    if typ == _BOOL:
        return contents.value.int_val == 1
    if typ == _INT:
        return int(contents.value.int_val)
    if typ == _DOUBLE:
        return float(contents.value.double_val)
    if typ >= _EXECUTE_EXC:
        message = contents.value.bytes_val[0 : min(contents.len, _MAX_ERROR_MESSAGE_BYTES)].decode("utf-8", "replace")
        if typ == _OOM_EXC:
            raise OutOfMemory(message or "JavaScript heap limit reached")
        if typ in (_TERMINATED_EXC, _TIMEOUT_EXC):
            raise Terminated(message or "execution terminated")
        raise ScriptError(message, parse=typ == _PARSE_EXC)
    raise ScriptError(f"unexpected value of type {typ} from the engine")


def _thread_cpu_clock(tid: int) -> int:
    # Linux: the CPU-time clock of any thread of this process (MAKE_THREAD_CPUCLOCK).
    return (~tid << 3) | 6


class Isolate:
    """A V8 isolate whose evaluations are awaited on one asyncio loop.

    Created (blocking, a few ms) on any thread, then bound to a loop with `bind`. `close`
    blocks until the isolate's thread has stopped and may be called from any thread,
    including while JavaScript is running.
    """

    def __init__(self) -> None:
        self._dll = _library()
        self._next_callback = count(_DOORBELL_ID + 1)
        self._pending: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]] = {}
        self._blocking: dict[int, tuple[threading.Event, list[Any]]] = {}
        self._raw_waiters: dict[int, tuple[threading.Event, list[Any]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_doorbell: Callable[[], None] | None = None
        self._closed = False
        self._close_lock = threading.Lock()
        self._heap_limit = -1
        self.max_result_bytes: int | None = None  # evaluations' string results, once serving
        self.last_cpu_ns = 0
        self.closing_bytes = 0  # memory outside the heap it held when its close began
        self.tid = 0
        self._v8_isolate = 0  # v8::Isolate*, for its external-memory counter
        self._identify = False
        # The C callback must stay referenced as long as the context lives.
        self._callback = mr_callback_func(self._on_callback)
        # One context created at a time: two first isolates of a process made at once both
        # set up V8's allocator pool, and V8 aborts (seen: "Check failed:
        # !IsConfigurablePoolInitialized()"). Preparing isolates stays parallel: the
        # prelude's evaluation, the slow part, runs outside this lock.
        with _creation_lock:
            self._ctx = self._dll.mr_init_context(self._callback)
        # Learn the isolate's thread and its V8 isolate from inside that thread: the first
        # evaluation's callback runs there (listing /proc/self/task before and after races
        # with threads that other isolates start and stop meanwhile).
        self._identify = True
        try:
            self.eval_blocking("0")
        except BaseException:
            self._dll.mr_free_context(self._ctx)
            raise
        if not self.tid or not self._v8_isolate:
            self._dll.mr_free_context(self._ctx)
            raise RuntimeError("could not identify the isolate's thread")
        self._cpu_clock = _thread_cpu_clock(self.tid)

    # -- callbacks from the isolate's thread ------------------------------------------------

    def _on_callback(self, callback_id: int, raw: Any) -> None:
        # Runs on the isolate's own thread, which is blocked until we return: be quick.
        if self._identify:
            self._identify = False
            self.tid = threading.get_native_id()
            self._v8_isolate = _v8().current_isolate() or 0
        if callback_id == _DOORBELL_ID:
            self._dll.mr_free_value(self._ctx, raw)
            loop, ring = self._loop, self._on_doorbell
            if loop is not None and ring is not None and not self._closed:
                loop.call_soon_threadsafe(ring)
            return
        if callback_id in self._raw_waiters:
            event, box = self._raw_waiters.pop(callback_id)
            box.append(raw)
            event.set()
            return
        try:
            outcome: tuple[bool, Any] = (True, _decode(raw, self.max_result_bytes))
        except Exception as exc:  # noqa: BLE001 - handed to the awaiting side
            outcome = (False, exc)
        finally:
            self._dll.mr_free_value(self._ctx, raw)
        if callback_id in self._blocking:
            event, box = self._blocking.pop(callback_id)
            box.append(outcome)
            event.set()
            return
        entry = self._pending.pop(callback_id, None)
        if entry is not None:
            loop, future = entry
            loop.call_soon_threadsafe(_settle, future, outcome)

    # -- set-up (blocking; before the isolate serves anything) -----------------------------

    def eval_blocking(self, code: str, timeout: float = 10.0) -> Any:
        """Evaluate synchronously from a thread that is not an event loop (set-up only)."""
        callback_id = next(self._next_callback)
        event, box = threading.Event(), []
        self._blocking[callback_id] = (event, box)
        task_id = self._eval_task(code, callback_id)
        if not event.wait(timeout):
            self._dll.mr_cancel_task(self._ctx, task_id)
            self._blocking.pop(callback_id, None)
            raise Terminated("set-up evaluation timed out")
        ok, value = box[0]
        if not ok:
            raise value
        return value

    def install_doorbell(self, global_name: str) -> None:
        """Define `globalThis[global_name]` as a data-less JS -> Python ping (set-up only)."""
        fn = self._dll.mr_make_js_callback(self._ctx, _DOORBELL_ID)
        key = self._alloc_string(global_name)
        glob = self._eval_handle("globalThis")
        try:
            result = self._dll.mr_set_object_item(self._ctx, glob, key, fn)
            self._dll.mr_free_value(self._ctx, result)
        finally:
            for handle in (fn, key, glob):
                self._dll.mr_free_value(self._ctx, handle)

    def _eval_handle(self, code: str, timeout: float = 10.0) -> Any:
        """Evaluate and return the raw value handle, e.g. of an object (set-up only)."""
        callback_id = next(self._next_callback)
        event, box = threading.Event(), []
        self._raw_waiters[callback_id] = (event, box)
        self._eval_task(code, callback_id)
        if not event.wait(timeout):
            self._raw_waiters.pop(callback_id, None)
            raise Terminated("set-up evaluation timed out")
        return box[0]

    # -- serving ------------------------------------------------------------------------------

    def bind(self, loop: asyncio.AbstractEventLoop, on_doorbell: Callable[[], None]) -> None:
        self._loop = loop
        self._on_doorbell = on_doorbell

    def eval(self, code: str) -> asyncio.Future[Any]:
        """Start evaluating `code`; the future settles with its (primitive) completion value."""
        assert self._loop is not None, "bind() the isolate to a loop first"
        future: asyncio.Future[Any] = self._loop.create_future()
        if self._closed:
            future.set_exception(Terminated("isolate closed"))
            return future
        callback_id = next(self._next_callback)
        self._pending[callback_id] = (self._loop, future)
        self._eval_task(code, callback_id)
        return future

    def _eval_task(self, code: str, callback_id: int) -> int:
        handle = self._alloc_string(code)
        try:
            return int(self._dll.mr_eval(self._ctx, handle, callback_id))
        finally:
            self._dll.mr_free_value(self._ctx, handle)

    def _alloc_string(self, text: str) -> Any:
        data = text.encode("utf-8")
        return self._dll.mr_alloc_string_val(self._ctx, data, len(data), _STR)

    # -- limits -------------------------------------------------------------------------------

    def cpu_ns(self) -> int:
        """CPU time consumed so far by the isolate's thread (0 once the thread is gone;
        `last_cpu_ns` keeps the latest reading)."""
        try:
            reading = time.clock_gettime_ns(self._cpu_clock)
        except OSError:  # the thread is gone
            return 0
        self.last_cpu_ns = reading
        return reading

    def set_heap_limit(self, limit_bytes: int) -> None:
        # Every call into the engine library releases and retakes the GIL: skip it when the
        # limit is already the one set (most invocations of a script share their limit).
        if limit_bytes != self._heap_limit:
            self._dll.mr_set_hard_memory_limit(self._ctx, limit_bytes)
            self._heap_limit = limit_bytes

    def external_bytes(self) -> int:
        """Memory the isolate holds outside its JavaScript heap (ArrayBuffers, WebAssembly
        memories), as V8 accounts it; 0 once closed. Safe from any thread."""
        with self._close_lock:
            if self._closed:
                return 0
            return _v8().external_bytes(self._v8_isolate)

    def heap_limit_reached(self) -> bool:
        return bool(self._dll.mr_hard_memory_limit_reached(self._ctx))

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Stop the isolate's JavaScript and free it. Blocks; safe from any thread."""
        with self._close_lock:
            if self._closed:
                return
            if self._v8_isolate:
                self.closing_bytes = _v8().external_bytes(self._v8_isolate)
            self._closed = True
        self.cpu_ns()  # the last reading while the thread still runs
        self._dll.mr_free_context(self._ctx)
        failure = (False, Terminated("isolate closed"))
        for callback_id in list(self._pending):
            entry = self._pending.pop(callback_id, None)
            if entry is not None:
                loop, future = entry
                loop.call_soon_threadsafe(_settle, future, failure)


def _settle(future: asyncio.Future[Any], outcome: tuple[bool, Any]) -> None:
    if future.done():
        return
    ok, value = outcome
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
