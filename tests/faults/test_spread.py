"""Simultaneous cold invocations spread over the executors (issue 17, 4): each loads its
code from the store before it is sent, and while it does, the executor it chose counts it
as in flight (it used to count none, so all of them chose the same one: 39 to 1). Each
concurrent invocation of one script needs an isolate of its own, so how many each executor
keeps afterwards is how the invocations were split."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.conftest import deploy, invoke

CONCURRENT = 24
SLOW = "export default { async fetch() { await new Promise((r) => setTimeout(r, 300)); return new Response('ok') } };"


def test_simultaneous_cold_invocations_are_shared_out(make_server, tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = make_server("--executors", "2", data_dir=data)
    with first.admin() as admin:
        deploy(admin, "cold", SLOW)
    first.stop()
    server = make_server("--executors", "2", "--spare-isolates", "1", data_dir=data)  # the script cold
    with ThreadPoolExecutor(CONCURRENT) as pool:
        answers = list(pool.map(lambda _: invoke(server, "default", "cold").text, range(CONCURRENT)))
    assert answers == ["ok"] * CONCURRENT
    with server.admin() as admin:
        idle = [item["idle_isolates"] for item in admin.get("/v1/system/executors").json()["items"]]
    assert min(idle) >= CONCURRENT // 4, f"simultaneous cold invocations split {idle}"
