"""Admission (isolane.platform.admission): slots per server and per namespace, a bounded
queue served in turns, and 503 overloaded past it."""

from __future__ import annotations

import asyncio

import pytest

from isolane.platform.admission import Admission, Overloaded


async def hold(admission: Admission, namespace: str, release: asyncio.Event, log: list[str]) -> None:
    async with admission.slot(namespace):
        log.append(namespace)
        await release.wait()


def test_namespace_cap_queues_then_refuses() -> None:
    async def scenario() -> None:
        admission = Admission(max_inflight=10, max_per_namespace=2, max_queued=10, max_wait=5)
        release = asyncio.Event()
        started: list[str] = []
        tasks = [asyncio.create_task(hold(admission, "a", release, started)) for _ in range(4)]
        await asyncio.sleep(0.01)
        assert started == ["a", "a"] and admission.queued == 2
        with pytest.raises(Overloaded) as refused:  # its own queue is as long as its cap
            await hold(admission, "a", release, started)
        assert refused.value.status == 503 and refused.value.headers == {"retry-after": "1"}
        other = asyncio.create_task(hold(admission, "b", release, started))  # not held up by a's backlog
        await asyncio.sleep(0.01)
        assert started[-1] == "b"
        release.set()
        await asyncio.gather(*tasks, other)
        assert admission.running == 0 and admission.queued == 0 and started.count("a") == 4

    asyncio.run(scenario())


def test_server_cap_serves_namespaces_in_turns() -> None:
    async def scenario() -> None:
        admission = Admission(max_inflight=1, max_per_namespace=2, max_queued=10, max_wait=5)
        gates = {name: asyncio.Event() for name in ("first", "a1", "a2", "b1")}
        order: list[str] = []

        async def run(namespace: str, gate: str) -> None:
            async with admission.slot(namespace):
                order.append(gate)
                await gates[gate].wait()

        first = asyncio.create_task(run("a", "first"))
        await asyncio.sleep(0.01)
        waiting = [asyncio.create_task(run("a", "a1")), asyncio.create_task(run("a", "a2"))]
        await asyncio.sleep(0.01)
        waiting.append(asyncio.create_task(run("b", "b1")))
        await asyncio.sleep(0.01)
        for gate in ("first", "a1", "b1", "a2"):
            gates[gate].set()
            await asyncio.sleep(0.01)
        await asyncio.gather(first, *waiting)
        assert order == ["first", "a1", "b1", "a2"]  # b's turn came before a's second waiter

    asyncio.run(scenario())


def test_waiting_is_bounded_in_time_and_cancellation_frees_the_place() -> None:
    async def scenario() -> None:
        admission = Admission(max_inflight=1, max_per_namespace=1, max_queued=10, max_wait=0.05)
        release = asyncio.Event()
        holder = asyncio.create_task(hold(admission, "a", release, []))
        await asyncio.sleep(0.01)
        with pytest.raises(Overloaded):
            await hold(admission, "b", release, [])
        assert admission.queued == 0
        waiter = asyncio.create_task(hold(admission, "c", release, []))
        await asyncio.sleep(0.01)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        assert admission.queued == 0
        release.set()
        await holder
        assert admission.running == 0

    asyncio.run(scenario())
