"""What the executors' sandbox costs (issue 16), in one run: executor start time, the first
invocation of a new script, warm latency and -c16 throughput with `--sandbox auto` and
`--sandbox off`, and the memory an executor (a cordon's) costs.

Run: `python bench/sandbox.py` (Debian's `wrk` and `bwrap` installed; as root the sandboxed
executors run under their own uid). Servers alternate `wrk` runs so both see the same noise.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from common import HELLO, TOKEN, executor_rss, percentile, run_wrk, start_server, wrk_percentile_ms, wrk_rate

from isolane.sandbox.confinement.jail import Jail
from isolane.sandbox.confinement.layers import SandboxMode
from isolane.sandbox.supervisor import ExecutorProcess



async def executor_start_ms(jail: Jail, runs: int) -> list[float]:
    """From spawning an executor to its first answer (a stats request)."""
    times = []
    for _ in range(runs):
        executor = ExecutorProcess(0, 16, 2, 2048, jail=jail)
        started = time.perf_counter()
        await executor.start()
        await executor.request({"op": "stats"}, 10.0)
        times.append((time.perf_counter() - started) * 1000)
        await executor.stop()
    return times


def deploy(client: httpx.Client, ns: str, name: str) -> None:
    client.put(f"/v1/namespaces/{ns}/scripts/{name}", content=HELLO, headers={"content-type": "application/javascript+module"}).raise_for_status()


def first_invocations_ms(url: str, count: int, tag: str) -> list[float]:
    """A new script deployed, then its first invocation (the upload's probe left it warm on
    one executor; the other may start it cold)."""
    times = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as client:
        for i in range(count):
            deploy(client, "default", f"first-{tag}-{i}")
            started = time.perf_counter()
            client.get(f"/v1/namespaces/default/scripts/first-{tag}-{i}/invoke").raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--starts", type=int, default=10)
    args = parser.parse_args()

    jails = {"sandbox off": Jail.probe(SandboxMode.OFF), "sandbox auto": Jail.probe(SandboxMode.AUTO)}
    print(jails["sandbox auto"].layers.summary())
    for label, jail in jails.items():
        times = asyncio.run(executor_start_ms(jail, args.starts))
        print(f"{label:<14} executor start to first answer: p50 {statistics.median(times):.0f} ms, max {max(times):.0f} ms (n={len(times)})")

    with tempfile.TemporaryDirectory() as tmp:
        servers = {}
        try:
            for label, mode in (("sandbox off", "off"), ("sandbox auto", "auto")):
                servers[label] = start_server(Path(tmp) / mode, "--sandbox", mode)
                with httpx.Client(base_url=servers[label][1], headers={"Authorization": f"Bearer {TOKEN}"}) as client:
                    deploy(client, "default", "hello")
            figures: dict[str, list[str]] = {label: [] for label in servers}
            firsts: dict[str, list[float]] = {label: [] for label in servers}
            for round_ in range(args.rounds):
                for label, (_, url) in servers.items():
                    invoke = f"{url}/v1/namespaces/default/scripts/hello/invoke"
                    serial = run_wrk(invoke, args.seconds, 1)
                    loaded = run_wrk(invoke, args.seconds, 16)
                    assert serial is not None and loaded is not None, "wrk is not installed (apt install wrk)"
                    figures[label].append(f"-c1 p50 {wrk_percentile_ms(serial, '50%') * 1000:.0f} µs, -c16 {wrk_rate(loaded):,.0f}/s")
                    firsts[label] += first_invocations_ms(url, 10, f"r{round_}")
            for label, runs in figures.items():
                print(f"{label:<14} " + " | ".join(runs))
            for label, times in firsts.items():
                print(f"{label:<14} first invocation after upload: p50 {percentile(times, 0.5):.2f} ms, p99 {percentile(times, 0.99):.2f} ms (n={len(times)})")
            for label, (_, url) in servers.items():
                with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
                    rss, _ = executor_rss(client)
                print(f"{label:<14} executors' RSS after the runs: {rss / 2**20:.0f} MiB (2 executors)")
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait()

        # A cordon's cost: a server with and without three one-namespace cordons, idle.
        cordons = [arg for i in range(3) for arg in ("--cordon", f"c{i}=tenant-{i}")]
        idle = {
            "2 shared executors": start_server(Path(tmp) / "plain", "--executors", "2"),
            "2 shared + 3 one-namespace cordons": start_server(Path(tmp) / "cordons", "--executors", "2", *cordons),
        }
        try:
            time.sleep(3)  # their spare isolates prepared
            for label, (_, url) in idle.items():
                with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
                    sizes = [item["rss_bytes"] for item in client.get("/v1/system/executors").json()["items"]]
                print(f"{label:<36} idle executors' RSS: {sum(sizes) / 2**20:.0f} MiB ({len(sizes)} executors, {statistics.median(sizes) / 2**20:.0f} MiB each)")
        finally:
            for process, _ in idle.values():
                process.terminate()
                process.wait()


if __name__ == "__main__":
    main()
