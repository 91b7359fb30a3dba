"""Host operations: Python functions the runtime reaches with `hostCall(op, args)`.

A stand-in with the names of the lead's host-call module, so that the crypto operations can
be written and tested before it lands; main's version replaces this file on merge."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Operation = Callable[[dict[str, Any]], Any]


class HostError(Exception):
    """An operation's failure as the script should see it: `name` is a DOMException name
    (the script gets that DOMException) or anything else (the script gets a TypeError)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


OPERATIONS: dict[str, Operation] = {}


def register(name: str) -> Callable[[Operation], Operation]:
    def decorator(fn: Operation) -> Operation:
        OPERATIONS[name] = fn
        return fn

    return decorator
