"""Faults injected into the supervisor itself (in this process, over real executors): its
frame reader and the keeper that replaces executors survive any exception."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from isolane.sandbox import supervisor as supervisor_module
from isolane.sandbox.limits import Limits
from isolane.sandbox.outcomes import Outcome
from isolane.sandbox.supervisor import ScriptCode, ScriptRef, Supervisor

WORKER = 'addEventListener("fetch", (event) => event.respondWith(new Response("hi")));'
FETCH = {"op": "fetch", "method": "GET", "url": "http://w.ns.localhost/", "headers": [], "body": None, "stream": False}
REF = ScriptRef("ns", "w", "v1", kind="classic")


async def load() -> ScriptCode:
    return ScriptCode(WORKER)


async def wait_until(condition, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


def test_a_failing_event_listener_ends_only_its_invocation() -> None:
    async def scenario() -> None:
        supervisor = Supervisor(executors=1, cache_size=8, spares=1)
        await supervisor.start()
        try:
            def explode(event: dict) -> None:
                raise RuntimeError("injected")

            # Cold, the head comes as an event the reader hands to the listener...
            failed = await supervisor.invoke(REF, Limits(), load, dict(FETCH), explode)
            assert failed.outcome is Outcome.EXCEPTION
            # ...warm, with the reply: either way the reader and the executor live on.
            again = await supervisor.invoke(REF, Limits(), load, dict(FETCH), explode)
            assert again.outcome is Outcome.EXCEPTION
            heads: list[dict] = []
            fine = await supervisor.invoke(REF, Limits(), load, dict(FETCH), heads.append)
            assert fine.outcome is Outcome.OK and heads[0]["response"]["status"] == 200
            assert supervisor.alive() == 1 and supervisor.restarts == 0
        finally:
            await supervisor.stop()

    asyncio.run(scenario())


def test_the_keeper_survives_a_failing_replacement(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        supervisor = Supervisor(executors=1, cache_size=8, spares=1)
        await supervisor.start()
        real_start = supervisor_module.ExecutorProcess.start
        failures = 0

        async def flaky_start(self) -> None:
            nonlocal failures
            if failures < 2:
                failures += 1
                raise RuntimeError("injected: cannot start")
            await real_start(self)

        try:
            monkeypatch.setattr(supervisor_module.ExecutorProcess, "start", flaky_start)
            [executor] = supervisor._executors
            os.kill(executor.pid, signal.SIGKILL)
            await wait_until(lambda: supervisor.alive() == 1 and supervisor._executors[0] is not executor)
            assert failures == 2
            result = await supervisor.invoke(REF, Limits(), load, dict(FETCH))
            assert result.outcome is Outcome.OK
        finally:
            await supervisor.stop()

    asyncio.run(scenario())
