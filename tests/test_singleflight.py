"""isolane.singleflight: concurrent misses of one key share a single load."""

from __future__ import annotations

import asyncio

import pytest

from isolane.singleflight import SingleFlight


def test_concurrent_loads_of_one_key_run_once() -> None:
    async def scenario() -> None:
        flights: SingleFlight[int] = SingleFlight()
        calls = 0

        async def load() -> int:
            nonlocal calls
            calls += 1
            mine = calls
            await asyncio.sleep(0.01)
            return mine

        assert await asyncio.gather(*(flights.run("k", load) for _ in range(50))) == [1] * 50
        assert await flights.run("k", load) == 2  # later misses load again
        assert await asyncio.gather(flights.run("a", load), flights.run("b", load)) in ([3, 4], [4, 3])

    asyncio.run(scenario())


def test_a_failed_load_fails_its_waiters_and_is_not_kept() -> None:
    async def scenario() -> None:
        flights: SingleFlight[int] = SingleFlight()

        async def fail() -> int:
            await asyncio.sleep(0.01)
            raise ValueError("store down")

        results = await asyncio.gather(*(flights.run("k", fail) for _ in range(3)), return_exceptions=True)
        assert all(isinstance(result, ValueError) for result in results)

        async def ok() -> int:
            return 7

        assert await flights.run("k", ok) == 7

    asyncio.run(scenario())


def test_a_cancelled_waiter_does_not_cancel_the_load() -> None:
    async def scenario() -> None:
        flights: SingleFlight[str] = SingleFlight()

        async def load() -> str:
            await asyncio.sleep(0.05)
            return "loaded"

        first = asyncio.create_task(flights.run("k", load))
        await asyncio.sleep(0.01)
        second = asyncio.create_task(flights.run("k", load))
        await asyncio.sleep(0.01)
        second.cancel()
        with pytest.raises(asyncio.CancelledError):
            await second
        assert await first == "loaded"

    asyncio.run(scenario())
