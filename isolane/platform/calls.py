"""Host calls the server answers: capabilities that need the store or the network (KV,
fetch), which executors never touch themselves.

The runtime's `hostCall(op, args)` first looks for `op` among the executor's own
operations (`isolane.runtime.host`, e.g. crypto); anything else travels to the server as a
`call` event and is answered here, in the context of the calling invocation: which
namespace, script and version, and the capability bindings of that version. An operation
trusts nothing but that context: a binding name from JavaScript is looked up in the
deployment's own bindings, never taken as an address.

Each operation that reaches a binding (fetch, KV, a dispatch namespace, ...) is a
subrequest: an invocation may make `max_subrequests` of them in all (Workers allows 1,000
KV operations per invocation; Isolane counts every binding against one cap, 1,000 by
default), and at most `MAX_CONCURRENT_CALLS` run at once, the rest waiting their turn.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from isolane.runtime.host import HostError

log = logging.getLogger(__name__)

# Server calls of one invocation running at once (Workers: six simultaneous connections).
MAX_CONCURRENT_CALLS = 6


@dataclass(slots=True)
class CallUsage:
    """What one invocation has used of its capabilities so far, and what it holds open."""

    subrequests: int = 0
    fetched_bytes: int = 0  # response bytes of its subrequests so far
    streams: dict[int, Any] = field(default_factory=dict)  # open fetch() response bodies
    uploads: dict[int, Any] = field(default_factory=dict)  # fetch() requests sending a stream
    _next_stream: int = 1

    def open_upload(self, chunks: Any, task: Any) -> int:
        upload_id = self._next_stream
        self._next_stream += 1
        self.uploads[upload_id] = (chunks, task)
        return upload_id

    def open_stream(self, response: Any, chunks: Any, url: str) -> int:
        stream_id = self._next_stream
        self._next_stream += 1
        self.streams[stream_id] = (response, chunks, url)
        return stream_id

    async def close_stream(self, stream_id: Any) -> None:
        stream = self.streams.pop(stream_id, None)
        if stream is not None:
            await stream[0].aclose()

    async def close(self) -> None:
        """End of the invocation: close what it left open."""
        for _, task in self.uploads.values():
            task.cancel()
        self.uploads.clear()
        for stream_id in list(self.streams):
            await self.close_stream(stream_id)


@dataclass(frozen=True, slots=True)
class CallContext:
    namespace: str
    script: str
    version: str
    bindings: tuple[dict[str, Any], ...] = ()  # capability bindings of the running version
    services: Any = field(default=None, compare=False)  # the server's services
    max_subrequests: int = 1000
    max_fetch_bytes: int = 128 * 1024 * 1024  # response bytes of all its subrequests together
    usage: CallUsage = field(default_factory=CallUsage, compare=False)
    direct_egress: bool = False  # fetch() skips the namespace's outbound worker (it is one)

    def count_fetched(self, size: int) -> None:
        """Account for `size` response bytes; past the limit, the subrequest fails."""
        self.usage.fetched_bytes += size
        if self.usage.fetched_bytes > self.max_fetch_bytes:
            raise HostError("TypeError", f"fetch failed: this invocation's responses exceed {self.max_fetch_bytes} bytes")

    def binding(self, name: Any, kind: str) -> dict[str, Any]:
        """The version's binding `name` of type `kind`, or a TypeError for JavaScript."""
        for binding in self.bindings:
            if binding.get("name") == name and binding.get("type") == kind:
                return binding
        raise HostError("TypeError", f"no {kind} binding named {str(name)[:64]!r}")


ServerOperation = Callable[[CallContext, dict[str, Any]], Awaitable[Any]]
SERVER_OPERATIONS: dict[str, ServerOperation] = {}
SUBREQUESTS: set[str] = set()  # operations that each count as one subrequest


def server_operation(name: str, *, subrequest: bool = True) -> Callable[[ServerOperation], ServerOperation]:
    """Register an operation; `subrequest=False` for the continuations of one (a streamed
    fetch body's reads and writes belong to the fetch that opened it)."""

    def decorate(operation: ServerOperation) -> ServerOperation:
        SERVER_OPERATIONS[name] = operation
        if subrequest:
            SUBREQUESTS.add(name)
        return operation

    return decorate


async def perform_call(context: CallContext, op: str, args: Any) -> tuple[bool, Any]:
    """(True, result) or (False, {"name", "message"}); never raises."""
    operation = SERVER_OPERATIONS.get(op)
    if operation is None:
        return False, {"name": "NotSupportedError", "message": f"{op} is not supported"}
    if not isinstance(args, dict):
        return False, {"name": "TypeError", "message": f"{op}: arguments must be an object"}
    if op in SUBREQUESTS:
        if context.usage.subrequests >= context.max_subrequests:
            # fetch() fails with a TypeError, as a network error would; other bindings throw.
            failed = "fetch failed: " if op == "fetch" else ""
            return False, {
                "name": "TypeError" if op == "fetch" else "Error",
                "message": f"{failed}too many subrequests (the limit is {context.max_subrequests} per invocation)."
                " fetch, KV and the other bindings count together.",
            }
        context.usage.subrequests += 1
    try:
        return True, await operation(context, args)
    except HostError as exc:
        return False, {"name": exc.name, "message": exc.message}
    except Exception:  # noqa: BLE001 - a bug in an operation must not reach the tenant as a 500
        log.exception("server operation %s failed for %s/%s", op, context.namespace, context.script)
        return False, {"name": "OperationError", "message": f"{op} failed"}
