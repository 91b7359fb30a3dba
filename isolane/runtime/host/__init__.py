"""Host operations: what the runtime may ask of the executor process, asynchronously.

JavaScript calls `hostCall(op, args)` (prelude `90-host.js`); the call travels out with the
invocation's state, the executor runs the operation registered under `op` on a worker
thread, charges its CPU time to the invocation, and hands the result back in a host step.
Operations are plain functions `fn(args) -> JSON value`; bytes travel as base64. They see
nothing but their arguments: no files, no network, no state of other invocations.
Each module of this package registers its own operations with `register`.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Operation = Callable[[dict[str, Any]], Any]
OPERATIONS: dict[str, Operation] = {}


class HostError(Exception):
    """An operation's failure as JavaScript should see it: a DOMException name (e.g.
    "OperationError", "DataError", "NotSupportedError") or "TypeError", and a message."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


def register(name: str) -> Callable[[Operation], Operation]:
    def decorate(operation: Operation) -> Operation:
        OPERATIONS[name] = operation
        return operation

    return decorate


def load_operations() -> dict[str, Operation]:
    """Import every module of this package, so that each registers its operations."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return OPERATIONS


def perform(op: str, args: Any) -> tuple[bool, Any]:
    """(True, result) or (False, {"name", "message"}); never raises."""
    operation = OPERATIONS.get(op)
    if operation is None:
        return False, {"name": "NotSupportedError", "message": f"{op} is not supported"}
    if not isinstance(args, dict):
        return False, {"name": "TypeError", "message": f"{op}: arguments must be an object"}
    try:
        return True, operation(args)
    except HostError as exc:
        return False, {"name": exc.name, "message": exc.message}
    except Exception:  # noqa: BLE001 - a host bug must not take the invocation's executor down
        log.exception("host operation %s failed", op)
        return False, {"name": "OperationError", "message": f"{op} failed"}
