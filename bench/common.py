"""Shared by the benchmarks: percentiles, wrk runs and parsing, executor memory."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx


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
