"""Benchmark of the seed path, `POST /execute` of a tiny script, against a real server.

Prints: cold latency (first execution of a new script), warm latency (p50/p99), executions
per second under concurrent load from separate processes, and resident memory per idle
cached isolate. Run: `python bench/execute.py` (`--help` for sizes). The machine is noisy:
compare figures from one run, not across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import tempfile
import time
from pathlib import Path

import httpx
from common import executor_rss, report, run_wrk, wrk_percentile_ms, wrk_rate

from isolane.testing import Server

TOKEN = "isl_bench_token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def upload(client: httpx.Client, code: str) -> str:
    response = client.post("/upload", content=code.encode())
    response.raise_for_status()
    return response.json()["id"]


def timed_execute(client: httpx.Client, script_id: str) -> float:
    started = time.perf_counter()
    response = client.post("/execute", content=script_id)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200 and response.json()["outcome"] == "ok", response.text
    return elapsed


def _load_worker(url: str, script_id: str, seconds: float, concurrency: int, counter) -> None:  # type: ignore[no-untyped-def]
    async def run() -> int:
        done = 0
        deadline = time.perf_counter() + seconds
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(base_url=url, headers=HEADERS, limits=limits, timeout=30) as client:

            async def loop() -> None:
                nonlocal done
                while time.perf_counter() < deadline:
                    response = await client.post("/execute", content=script_id)
                    if response.status_code == 200:
                        done += 1

            await asyncio.gather(*(loop() for _ in range(concurrency)))
        return done

    with counter.get_lock():
        counter.value += asyncio.run(run())


def throughput(url: str, script_id: str, seconds: float, processes: int, concurrency: int) -> float:
    counter = multiprocessing.Value("i", 0)
    workers = [
        multiprocessing.Process(target=_load_worker, args=(url, script_id, seconds, concurrency, counter))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return counter.value / seconds


def wrk_execute(url: str, script_id: str, seconds: float, connections: int) -> str | None:
    lua = f'wrk.method = "POST"\nwrk.body = "{script_id}"\nwrk.headers["Authorization"] = "Bearer {TOKEN}"\n'
    return run_wrk(f"{url}/execute", seconds, connections, lua)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cold", type=int, default=200, help="new scripts for the cold-start figure")
    parser.add_argument("--warm", type=int, default=1000, help="sequential warm executions")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of the load test")
    parser.add_argument("--processes", type=int, default=2, help="load-generating processes")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight per load process")
    parser.add_argument("--idle", type=int, default=300, help="distinct scripts for the RSS-per-isolate figure")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "data", "--isolate-cache-size", "1000", admin_token=TOKEN).start()
        try:
            with httpx.Client(base_url=server.url, headers=HEADERS, timeout=30) as client:
                hello = upload(client, "const a = 40; a + 2")
                for _ in range(50):
                    timed_execute(client, hello)

                cold_ids = [upload(client, f"const a = {i}; a + 2") for i in range(args.cold)]
                report("cold (first execute of a script)", [timed_execute(client, sid) for sid in cold_ids])
                report("warm (same script again)", [timed_execute(client, hello) for _ in range(args.warm)])

                serial = wrk_execute(server.url, hello, args.seconds, 1)
                loaded = wrk_execute(server.url, hello, args.seconds, args.concurrency)
                if serial is not None and loaded is not None:
                    print(
                        f"{'warm (wrk -c1, no client overhead)':<34} p50 {wrk_percentile_ms(serial, '50%'):7.3f} ms   "
                        f"p99 {wrk_percentile_ms(serial, '99%'):7.3f} ms   ({wrk_rate(serial):.0f} serial executions/s)"
                    )
                    print(f"{'throughput (warm, wrk)':<34} {wrk_rate(loaded):9.0f} executions/s  (wrk -t1 -c{args.concurrency})")
                else:
                    rate = throughput(server.url, hello, args.seconds, args.processes, args.concurrency)
                    print(f"{'throughput (warm, python load)':<34} {rate:9.0f} executions/s  ({args.processes} processes x {args.concurrency} in flight)")

                rss_before, idle_before = executor_rss(client)
                for i in range(args.idle):
                    timed_execute(client, upload(client, f"globalThis.x = {{ n: {i} }}; x.n"))
                time.sleep(0.5)
                rss_after, idle_after = executor_rss(client)
                added = max(idle_after - idle_before, 1)
                print(f"{'RSS per idle cached isolate':<34} {(rss_after - rss_before) / added / 1024 / 1024:9.2f} MiB  ({added} isolates added)")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
