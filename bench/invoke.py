"""Benchmark of the Workers path: a hello-world fetch handler invoked over HTTP.

Prints: cold start (every request on a brand-new isolate, isolate cache off), first
invocation after an upload, warm latency (p50/p99, wrk -c1), throughput under concurrent
load from another process (wrk), and resident memory per idle isolate. Run:
`python bench/invoke.py` (`--help` for sizes). The machine is noisy: compare figures from
one run, not across runs.
"""

from __future__ import annotations

import argparse
import http.client
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from common import executor_rss, report, run_wrk, wrk_percentile_ms, wrk_rate

from isolane.testing import Server

TOKEN = "isl_bench_token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
HELLO = 'export default {{ fetch() {{ return new Response("hello {n}"); }} }};'


def deploy(client: httpx.Client, name: str, n: int = 0) -> None:
    response = client.put(
        f"/v1/namespaces/default/scripts/{name}",
        content=HELLO.format(n=n).encode(),
        headers={"content-type": "application/javascript+module"},
    )
    response.raise_for_status()


class Timer:
    """Sequential GETs on one keep-alive connection with the standard library's client, which
    adds far less of its own time than httpx (~0.1 ms against ~0.9 ms here)."""

    def __init__(self, url: str) -> None:
        parsed = urlsplit(url)
        self._connection = http.client.HTTPConnection(parsed.hostname, parsed.port)

    def invoke(self, name: str) -> float:
        started = time.perf_counter()
        self._connection.request("GET", f"/v1/namespaces/default/scripts/{name}/invoke")
        response = self._connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        assert response.status == 200 and body.startswith(b"hello"), body
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cold", type=int, default=300, help="invocations for the cold-start figure")
    parser.add_argument("--first", type=int, default=100, help="new scripts for the first-invocation figure")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each wrk run")
    parser.add_argument("--concurrency", type=int, default=16, help="connections for the throughput run")
    parser.add_argument("--idle", type=int, default=300, help="distinct scripts for the RSS-per-isolate figure")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        # Isolate cache off: every invocation takes a prepared spare isolate, loads the
        # script, runs its global scope and the handler, then throws the isolate away.
        cold = Server(Path(tmp) / "cold", "--isolate-cache-size", "0", admin_token=TOKEN).start()
        try:
            with httpx.Client(base_url=cold.url, headers=HEADERS, timeout=30) as client:
                deploy(client, "hello")
                timer = Timer(cold.url)
                for _ in range(20):
                    timer.invoke("hello")
                samples = []
                for _ in range(args.cold):
                    samples.append(timer.invoke("hello"))
                    time.sleep(0.005)  # let the spare isolate be replaced, as between real requests
                report("cold start (new isolate every request)", samples)
        finally:
            cold.stop()

        server = Server(Path(tmp) / "warm", "--isolate-cache-size", "1000", admin_token=TOKEN).start()
        try:
            with httpx.Client(base_url=server.url, headers=HEADERS, timeout=30) as client:
                deploy(client, "hello")
                timer = Timer(server.url)
                first = []
                for i in range(args.first):
                    deploy(client, f"first-{i}", i)
                    first.append(timer.invoke(f"first-{i}"))
                report("first invocation after upload", first)
                report("warm, http.client", [timer.invoke("hello") for _ in range(1000)])

                url = f"{server.url}/v1/namespaces/default/scripts/hello/invoke"
                serial = run_wrk(url, args.seconds, 1)
                loaded = run_wrk(url, args.seconds, args.concurrency)
                if serial is not None and loaded is not None:
                    print(
                        f"{'warm, wrk -t1 -c1':<44} p50 {wrk_percentile_ms(serial, '50%'):7.3f} ms   "
                        f"p99 {wrk_percentile_ms(serial, '99%'):7.3f} ms   ({wrk_rate(serial):.0f} requests/s serial)"
                    )
                    print(
                        f"{f'throughput, wrk -t1 -c{args.concurrency}':<44} {wrk_rate(loaded):9.0f} requests/s   "
                        f"(p50 {wrk_percentile_ms(loaded, '50%'):.2f} ms, p99 {wrk_percentile_ms(loaded, '99%'):.2f} ms)"
                    )
                else:
                    print("wrk is not installed (apt install wrk): no warm latency or throughput figures")

                rss_before, idle_before = executor_rss(client)
                for i in range(args.idle):
                    deploy(client, f"idle-{i}", i)
                time.sleep(0.5)
                rss_after, idle_after = executor_rss(client)
                added = max(idle_after - idle_before, 1)
                per = (rss_after - rss_before) / added / 1024 / 1024
                print(f"{'RSS per idle isolate':<44} {per:9.2f} MiB  ({added} isolates added)")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
