"""The link workers: real worker processes for the job's bounds, a stubbed job for the
admission rules (who runs, who waits, who is refused)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable

import pytest

from isolane.errors import BadRequest
from isolane.linker import LinkError, Module, ModuleType
from isolane.linker import pool as pool_module
from isolane.linker.pool import LinkBusy, LinkPool

SMALL = [Module("w.js", ModuleType.ESM, b"export default { fetch() { return new Response('x'); } };\n")]
# ~1.5 MB that tree-sitter needs seconds and ~500 MB to parse (one node per two bytes).
DENSE = [Module("w.js", ModuleType.ESM, b"export default [" + b"a," * 750_000 + b"];\n")]


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(test())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_uploads_link_in_a_worker_that_is_kept() -> None:
    async def test() -> None:
        pool = LinkPool(workers=1)
        try:
            linked = await pool.link("ns", SMALL, "w.js")
            assert linked.code.startswith("(function (__isolane_exports)") and linked.modules == ("w.js",)
            first = pool._idle[0].process.pid
            with pytest.raises(LinkError) as caught:
                await pool.link("ns", [Module("w.js", ModuleType.ESM, b'import t from "/etc/hostname";\nexport default t;\n')], "w.js")
            assert (caught.value.code, caught.value.details["line"]) == ("forbidden_import", 1)
            assert pool._idle[0].process.pid == first and first != os.getpid()
        finally:
            await pool.close()

    run(test)


def test_a_job_over_the_time_bound_is_killed_and_refused() -> None:
    async def test() -> None:
        pool = LinkPool(workers=1, timeout_seconds=1.0)
        try:
            await pool.link("ns", SMALL, "w.js")
            worker = pool._idle[0].process.pid
            with pytest.raises(BadRequest) as caught:
                await pool.link("ns", DENSE, "w.js")
            assert caught.value.code == "script_link_timeout" and caught.value.details["limit_seconds"] == 1.0
            await asyncio.sleep(0.5)
            assert not _alive(worker)  # killed with its process group, and reaped
            assert (await pool.link("ns", SMALL, "w.js")).code  # a new worker takes the next job
        finally:
            await pool.close()

    run(test)


def test_a_job_over_the_memory_ceiling_fails_without_hurting_the_server() -> None:
    async def test() -> None:
        pool = LinkPool(workers=1, timeout_seconds=60.0, memory_mb=256)
        try:
            assert (await pool.link("ns", SMALL, "w.js")).code  # fits
            with pytest.raises(LinkError) as caught:
                await pool.link("ns", DENSE, "w.js")
            assert caught.value.code == "link_failed" and "256 MiB" in caught.value.message
            assert (await pool.link("ns", SMALL, "w.js")).code
        finally:
            await pool.close()

    run(test)


class _Gate:
    """Stands in for linking: each job waits until the test opens it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, pool: LinkPool) -> None:
        self.started: list[str] = []
        self.opened = asyncio.Event()

        async def job(modules: list[Module], main: str) -> object:
            self.started.append(main)
            await self.opened.wait()
            return main

        monkeypatch.setattr(pool, "_link", job)


def test_one_namespace_leaves_a_worker_for_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    async def test() -> None:
        pool = LinkPool(workers=2, timeout_seconds=5.0)
        gate = _Gate(monkeypatch, pool)
        hostile = [asyncio.create_task(pool.link("mallory", [], f"m{i}")) for i in range(3)]
        await asyncio.sleep(0.05)
        assert gate.started == ["m0"]  # one at a time for one namespace when there are two workers
        other = asyncio.create_task(pool.link("victim", [], "v0"))
        await asyncio.sleep(0.05)
        assert gate.started == ["m0", "v0"]  # the other namespace did not wait behind mallory
        gate.opened.set()
        assert await asyncio.gather(*hostile, other) == ["m0", "m1", "m2", "v0"]
        assert pool._active == 0 and not pool._running and not pool._waiting

    run(test)


def test_the_queue_is_bounded_in_bytes_per_namespace_and_in_all(monkeypatch: pytest.MonkeyPatch) -> None:
    async def test() -> None:
        pool = LinkPool(workers=2, timeout_seconds=5.0)
        gate = _Gate(monkeypatch, pool)
        big = [Module("w.js", ModuleType.ESM, b"x" * (10 << 20))]
        small = [Module("w.js", ModuleType.ESM, b"x" * 100)]
        per_namespace = pool_module.MAX_WAITING_BYTES_PER_NAMESPACE // (10 << 20)
        first = [asyncio.create_task(pool.link("a", big, f"a{i}")) for i in range(per_namespace)]
        # A pipeline's many small uploads queue as well: they count by their bytes.
        pipeline = [asyncio.create_task(pool.link("a", small, f"s{i}")) for i in range(40)]
        await asyncio.sleep(0.05)
        assert gate.started == ["a0"] and len(pool._waiting) == per_namespace - 1 + 40
        assert not any(task.done() for task in pipeline)
        with pytest.raises(LinkBusy) as caught:
            await pool.link("a", big, "one too many")
        assert caught.value.status == 503 and caught.value.code == "link_busy" and caught.value.headers == {"retry-after": "5"}
        # Other namespaces queue until the server's waiting bytes are taken.
        others = [asyncio.create_task(pool.link(f"n{i}", big, f"n{i}")) for i in range(pool_module.MAX_WAITING_BYTES // (10 << 20))]
        await asyncio.sleep(0.05)
        refused = [task for task in others if task.done()]
        assert refused and all(isinstance(task.exception(), LinkBusy) for task in refused)
        assert len(refused) < len(others)
        assert gate.started == ["a0", "n0"]  # another namespace took the second worker
        gate.opened.set()
        await asyncio.gather(*first, *pipeline, *others, return_exceptions=True)
        assert all(task.result() == f"s{i}" for i, task in enumerate(pipeline))
        assert pool._active == 0 and not pool._running and not pool._waiting

    run(test)


def test_a_wait_longer_than_the_bound_is_refused_and_a_left_wait_gives_nothing_away(monkeypatch: pytest.MonkeyPatch) -> None:
    async def test() -> None:
        pool = LinkPool(workers=1, timeout_seconds=1.0)
        gate = _Gate(monkeypatch, pool)
        running = asyncio.create_task(pool.link("a", [], "a0"))
        await asyncio.sleep(0.05)
        with pytest.raises(LinkBusy, match="within 1 s"):
            await pool.link("b", [], "b0")
        left = asyncio.create_task(pool.link("c", [], "c0"))
        await asyncio.sleep(0.05)
        left.cancel()  # the client went away while waiting
        await asyncio.gather(left, return_exceptions=True)
        gate.opened.set()
        assert await running == "a0"
        assert await pool.link("d", [], "d0") == "d0"
        assert pool._active == 0 and not pool._running and not pool._waiting

    run(test)
