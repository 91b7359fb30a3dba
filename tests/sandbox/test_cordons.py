"""Cordons: namespaces that run on executors of their own (`--cordon NAME=NS,...`), so that
a V8 escape in one tenant's isolate shares no process with another's. Shown by wedging one
side's executors: the other side never notices, and nothing crosses over."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from typer.testing import CliRunner

from isolane.cli import app
from tests.conftest import deploy, invoke

HELLO = 'export default { fetch() { return new Response("hello") } };'


def executors(client: httpx.Client) -> dict[str | None, list[int]]:
    by_cordon: dict[str | None, list[int]] = {}
    for item in client.get("/v1/system/executors").json()["items"]:
        by_cordon.setdefault(item["cordon"], []).append(item["pid"])
    return by_cordon


def test_a_cordoned_namespace_never_shares_an_executor(make_server) -> None:
    server = make_server("--executors", "1", "--cordon", "vip=acme,globex", "--cordon", "solo=initech", "--wall-ms", "1000")
    with server.admin() as admin:
        for ns in ("acme", "initech", "hooli"):
            assert admin.put(f"/v1/namespaces/{ns}").status_code in (200, 201)
            deploy(admin, "hello", HELLO, ns=ns)
        pids = executors(admin)
        assert sorted(pids, key=str) == sorted([None, "vip", "solo"], key=str) and all(len(p) == 1 for p in pids.values())
        assert len({pid for group in pids.values() for pid in group}) == 3
        for ns in ("acme", "initech", "hooli"):
            assert invoke(server, ns, "hello").text == "hello"

        # The cordon's executor wedged: its namespaces wait for their cordon's replacement
        # (never the idle shared executor, which would answer at once); everyone else
        # carries on meanwhile.
        [vip] = pids["vip"]
        os.kill(vip, signal.SIGSTOP)
        try:
            with ThreadPoolExecutor(4) as pool:
                started = time.monotonic()
                cordoned = pool.submit(invoke, server, "acme", "hello")
                others = [pool.submit(invoke, server, ns, "hello") for ns in ("hooli", "initech", "hooli")]
                assert all(f.result().text == "hello" for f in others)
                assert time.monotonic() - started < 1.0 and not cordoned.done()
                assert cordoned.result().text == "hello"  # on the replacement, seconds later
        finally:
            os.kill(vip, signal.SIGCONT)
        assert executors(admin)["vip"] != [vip]

        # The shared executor wedged: the cordons' namespaces carry on at once; the shared
        # namespaces wait for its replacement.
        [shared] = executors(admin)[None]
        os.kill(shared, signal.SIGSTOP)
        try:
            started = time.monotonic()
            assert invoke(server, "initech", "hello").text == "hello"
            assert invoke(server, "acme", "hello").text == "hello"
            assert time.monotonic() - started < 1.0
            assert invoke(server, "hooli", "hello").text == "hello"
            assert time.monotonic() - started > 1.0
        finally:
            os.kill(shared, signal.SIGCONT)


@pytest.mark.parametrize(
    "spec",
    ["vip", "vip=", "VIP=acme", "vip=acme,NotAName", "vip=acme --cordon other=acme", "vip=acme --cordon vip=globex"],
)
def test_bad_cordons_are_refused_at_start(spec: str, tmp_path) -> None:
    args = ["serve", "--data-dir", str(tmp_path)]
    for part in spec.split(" --cordon "):
        args += ["--cordon", part]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "--cordon" in result.output, result.output
