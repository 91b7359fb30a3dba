"""Benchmark of the live tail: how soon a record reaches a tail, on the server that ran the
invocation and on another server sharing the store, and what a tail costs invocations.

Prints: latency from sending the request to its record's tail event (p50/p99), locally and
across servers; throughput (wrk -c16) without a tail and with a tail that reads everything,
alternated so that the ratio is read from one run. Run: `python bench/tail.py`.
"""

from __future__ import annotations

import argparse
import json
import queue
import random
import tempfile
import threading
import time
from pathlib import Path

import httpx
from common import report, run_wrk, wrk_rate

from isolane.testing import Server

TOKEN = "isl_bench_token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
HELLO = 'export default { fetch() { console.log("hello"); return new Response("hello"); } };'


class Tail:
    """A tail stream read on a thread: (arrival time, record id) of each invocation event."""

    def __init__(self, url: str, name: str) -> None:
        self.events: queue.Queue[tuple[float, str]] = queue.Queue()
        self.count = 0
        self._client = httpx.Client(base_url=url, headers=HEADERS, timeout=None)
        self._ready = threading.Event()
        threading.Thread(target=self._read, args=(name,), daemon=True).start()
        self._ready.wait(10)

    def _read(self, name: str) -> None:
        with self._client.stream("GET", f"/v1/namespaces/default/scripts/{name}/tail") as response:
            for line in response.iter_lines():
                if line.startswith("data: ") and not self._ready.is_set():
                    self._ready.set()  # the `connected` event
                elif line.startswith("data: "):
                    self.count += 1
                    self.events.put((time.perf_counter(), json.loads(line[6:]).get("id", "")))

    def close(self) -> None:
        self._client.close()


def latencies(invoker: httpx.Client, tail: Tail, name: str, n: int) -> list[float]:
    """From sending the request to the record's arrival on the tail (the event can arrive
    before the response does). Pauses of random length keep the requests from falling
    into step with the other servers' poll."""
    samples = []
    for _ in range(n):
        sent = time.perf_counter()
        record = invoker.get(f"/v1/namespaces/default/scripts/{name}/invoke").headers["x-isolane-invocation"]
        while True:
            arrived, rid = tail.events.get(timeout=10)
            if rid == record:
                samples.append(arrived - sent)
                break
        time.sleep(random.uniform(0.0, 0.5))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=60, help="invocations per latency figure")
    parser.add_argument("--seconds", type=float, default=4.0, help="duration of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the throughput runs")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "shared"
        first = Server(data, admin_token=TOKEN).start()
        second = Server(data, admin_token=TOKEN).start()
        try:
            with httpx.Client(base_url=first.url, headers=HEADERS, timeout=30) as admin:
                for name in ("hello", "tailed"):
                    admin.put(
                        f"/v1/namespaces/default/scripts/{name}",
                        content=HELLO.encode(),
                        headers={"content-type": "application/javascript+module"},
                    ).raise_for_status()
            tail = Tail(first.url, "tailed")
            with httpx.Client(base_url=first.url, timeout=30) as here, httpx.Client(base_url=second.url, timeout=30) as there:
                report("tail latency, same server", latencies(here, tail, "tailed", args.n))
                report("tail latency, another server on the store", latencies(there, tail, "tailed", args.n))

            rates: dict[str, list[float]] = {"no tail": [], "one tail reading all": []}
            for _ in range(args.rounds):
                for label, name in (("no tail", "hello"), ("one tail reading all", "tailed")):
                    before = tail.count
                    output = run_wrk(f"{first.url}/v1/namespaces/default/scripts/{name}/invoke", args.seconds, 16)
                    if output is None:
                        print("wrk is not installed (apt install wrk): no throughput figures")
                        return
                    rates[label].append(wrk_rate(output))
                    if name == "tailed":
                        time.sleep(0.5)
                        print(f"  (tail received {tail.count - before} records in that run)")
            for label, values in rates.items():
                print(f"{'throughput, wrk -t1 -c16, ' + label:<44} {max(values):9.0f} requests/s (best of {len(values)})")
            print(f"{'ratio with tail / without':<44} {max(rates['one tail reading all']) / max(rates['no tail']):9.2f}")
            tail.close()
        finally:
            first.stop()
            second.stop()


if __name__ == "__main__":
    main()
