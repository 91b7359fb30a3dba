"""One load per key at a time: concurrent callers that miss the same cache entry share the
load in flight instead of each querying the store (a thundering herd when a popular entry
expires, or under a flood of requests for one script)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._flights: dict[Hashable, asyncio.Future[T]] = {}

    async def run(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        """`await load()`, or the result of the same key's load already in flight."""
        flight = self._flights.get(key)
        if flight is not None:
            return await asyncio.shield(flight)
        flight = asyncio.get_running_loop().create_future()
        self._flights[key] = flight
        try:
            value = await load()
        except BaseException as exc:
            if not flight.done():
                flight.set_exception(exc if isinstance(exc, Exception) else asyncio.CancelledError())
            flight.exception()  # retrieved: no "never retrieved" warning when nobody waited
            raise
        else:
            flight.set_result(value)
            return value
        finally:
            del self._flights[key]
