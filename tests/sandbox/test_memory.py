"""Memory limits, on a server whose CPU limit is loose enough for a bomb to reach them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from isolane.testing import Server
from tests.conftest import ADMIN_TOKEN, execute, run_js, upload

BOMBS = {
    "arrays": "const keep = []; while (true) keep.push(new Array(1e6).fill(0))",
    "strings after await": "(async () => { await null; const keep = []; while (true) keep.push('x'.repeat(1 << 20) + Math.random()) })()",
    "objects in a timer": "new Promise(() => setTimeout(() => { const keep = []; while (true) keep.push({ n: Math.random() }) }, 1))",
}


@pytest.fixture(scope="module")
def roomy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    args = ("--cpu-ms", "5000", "--wall-ms", "10000", "--memory-mb", "32", "--executor-memory-mb", "1024")
    instance = Server(tmp_path_factory.mktemp("memory") / "data", *args, admin_token=ADMIN_TOKEN).start()
    yield instance
    instance.stop()


@pytest.mark.parametrize("name", list(BOMBS))
def test_memory_bomb_is_exceeded_memory(roomy: Server, name: str) -> None:
    with roomy.admin() as client:
        body = run_js(client, f"{BOMBS[name]} // {name}")
        assert body["outcome"] == "exceededMemory", body
        assert "memory limit" in body["error"]["message"]
        # The executor survived and serves the next script.
        assert run_js(client, f"'fine' // after {name}")["result"] == "fine"


def test_array_buffer_bomb_is_stopped_by_the_executor_ceiling(roomy: Server) -> None:
    # Backing stores live outside V8's heap; the executor's resident-memory ceiling ends it.
    with roomy.admin() as client:
        body = run_js(client, "const keep = []; while (true) keep.push(new Uint8Array(16 << 20).fill(1))")
        assert body["outcome"] == "exceededMemory", body
        assert run_js(client, "'fine' // after buffers")["result"] == "fine"


def test_memory_is_per_invocation_not_cumulative(roomy: Server) -> None:
    with roomy.admin() as client:
        script = upload(client, "const big = new Array(2e6).fill(1); big.length")
        for _ in range(5):
            assert execute(client, script)["outcome"] == "ok"
