"""Shared by the benchmarks: percentiles, wrk runs and parsing, executor memory."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from isolane.testing import free_port

TOKEN = "isl_bench_admin_token_000000"
HELLO = b"export default { fetch: () => new Response('hi') };"


def start_server(data: Path, *args: str, cwd: Path | None = None, timeout: float = 60) -> tuple[subprocess.Popen[bytes], str]:
    """`isolane serve` (from `cwd`'s tree when given: python -m puts it first on the path)
    with the bench admin token, once `/readyz` answers 200."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ISOLANE_")} | {"ISOLANE_ADMIN_TOKEN": TOKEN}
    process = subprocess.Popen(
        [sys.executable, "-m", "isolane", "serve", "--port", str(port), "--data-dir", str(data), "--log-level", "warning", *args],
        cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"the server ({cwd or 'this tree'}, {args}) did not start")
        time.sleep(0.1)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def report(name: str, samples_s: list[float]) -> None:
    ms = [s * 1000 for s in samples_s]
    print(f"{name:<44} p50 {percentile(ms, 0.5):7.3f} ms   p99 {percentile(ms, 0.99):7.3f} ms   (n={len(ms)})")


def run_wrk(url: str, seconds: float, connections: int, lua: str = "", threads: int = 1) -> str | None:
    """wrk's report (--latency), or None when wrk is not installed (apt install wrk)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua)
    try:
        output = subprocess.run(
            [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds:.0f}s", "--latency", "-s", script.name, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        Path(script.name).unlink()
    if "Non-2xx" in output:
        raise RuntimeError(output)
    return output


def wrk_rate(output: str) -> float:
    found = re.search(r"Requests/sec:\s+([\d.]+)", output)
    assert found is not None, output
    return float(found.group(1))


def wrk_percentile_ms(output: str, label: str) -> float:
    found = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", output)
    assert found is not None, output
    value, unit = found.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def executor_rss(client: httpx.Client) -> tuple[int, int]:
    items = client.get("/v1/system/executors").json()["items"]
    return sum(item["rss_bytes"] for item in items), sum(item["idle_isolates"] for item in items)
