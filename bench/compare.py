"""Compare the invocation path of this checkout with an earlier revision, in one run.

Checks REV out into a temporary git worktree, starts a server from each tree, deploys the
same hello-world script to both, and alternates `wrk` runs between them (serial and
-c16), so that both see the same machine noise. Run: `python bench/compare.py ba93a92`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from common import run_wrk, wrk_percentile_ms, wrk_rate

from isolane.testing import free_port

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "isl_bench_admin_token_000000"
HELLO = b"export default { fetch: () => new Response('hi') };"


def start(tree: Path, data: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`isolane serve` from `tree` (python -m puts the working directory first on the path)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ISOLANE_")} | {"ISOLANE_ADMIN_TOKEN": TOKEN}
    process = subprocess.Popen(
        [sys.executable, "-m", "isolane", "serve", "--port", str(port), "--data-dir", str(data), "--log-level", "warning"],
        cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                break
        except httpx.TransportError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"the server from {tree} did not start") from None
            time.sleep(0.1)
    httpx.put(
        f"{url}/v1/namespaces/default/scripts/hello",
        content=HELLO,
        headers={"content-type": "application/javascript+module", "Authorization": f"Bearer {TOKEN}"},
    ).raise_for_status()
    return process, url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rev", help="the earlier revision (commit, tag, branch)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt install wrk)")

    with tempfile.TemporaryDirectory() as tmp:
        earlier = Path(tmp) / "earlier"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(earlier), args.rev], check=True, capture_output=True)
        servers = {}
        try:
            servers[args.rev] = start(earlier, Path(tmp) / "data-earlier")
            servers["this checkout"] = start(ROOT, Path(tmp) / "data-now")
            figures: dict[str, list[str]] = {label: [] for label in servers}
            for _ in range(args.rounds):
                for label, (_, url) in servers.items():
                    invoke = f"{url}/v1/namespaces/default/scripts/hello/invoke"
                    serial = run_wrk(invoke, args.seconds, 1)
                    loaded = run_wrk(invoke, args.seconds, 16)
                    assert serial is not None and loaded is not None
                    figures[label].append(f"-c1 p50 {wrk_percentile_ms(serial, '50%') * 1000:.0f} µs, -c16 {wrk_rate(loaded):,.0f}/s")
            for label, runs in figures.items():
                print(f"{label:<16} " + " | ".join(runs))
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait()
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(earlier)], check=False)


if __name__ == "__main__":
    main()
