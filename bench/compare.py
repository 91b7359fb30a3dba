"""Compare the invocation path of this checkout with an earlier revision, in one run.

Checks REV out into a temporary git worktree, starts a server from each tree, deploys the
same hello-world script to both, and alternates `wrk` runs between them (serial and
-c16), so that both see the same machine noise. Run: `python bench/compare.py ba93a92`.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx
from common import HELLO, TOKEN, run_wrk, start_server, wrk_percentile_ms, wrk_rate


ROOT = Path(__file__).resolve().parent.parent


def start(tree: Path, data: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`isolane serve` from `tree`, with the hello-world script deployed."""
    process, url = start_server(data, cwd=tree)
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
