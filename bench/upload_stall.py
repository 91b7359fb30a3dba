"""Benchmark: what a maximum-size upload does to another tenant's invocations.

Starts a real server (`isolane.testing.Server`, default options: 10 MiB scripts), deploys a
tiny "victim" script in one namespace, then uploads ~9.5 MB ES modules in another while two
threads measure the victim's invocations and `GET /healthz`. Rounds: a module refused by the
import check at its very end (the link step alone), one that links and deploys, and several
refused ones at once. Also the latency of an ordinary small upload.
Run: `python bench/upload_stall.py` (`--help`; server options after `--`).
The machine is noisy: compare figures from one run, not across runs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from common import percentile

from isolane.testing import Server

TOKEN = "isl_bench_token_0123456789"
VICTIM = "export default { fetch() { return new Response('ok'); } };\n"
MODULE = {"content-type": "application/javascript+module"}


def big_module(size: int, salt: str, refused: bool = False, exported: bool = False) -> bytes:
    """~`size` bytes of plain code: many small functions, two of them used by the fetch
    handler. The import check and the bundler read all of it; the bundler drops the unused
    functions (as bundles often carry code they do not run), so the probe stays cheap and the
    upload deploys. With `refused`, an import of a host file at the very end: the whole module
    is scanned, then refused. With `exported`, every function is exported, so the bundle
    keeps them all (a 15 MB script with a 12 MB source map)."""
    lines: list[str] = []
    total = index = 0
    while total < size - 200:
        line = f"{'export ' if exported else ''}function f{salt}{index}(a, b) {{ return a + b * {index}; }}\n"
        lines.append(line)
        total += len(line)
        index += 1
    lines.append(f"export default {{ fetch() {{ return new Response(String(f{salt}0(1, 2) + f{salt}{index - 1}(3, 4))); }} }};\n")
    if refused:
        lines.append('import secret from "/etc/hostname";\n')
    return "".join(lines).encode()


def phases(size: int) -> None:
    """Where a big upload's link step goes, in this process (no server): the parse, the
    import scan (parse included), the whole link, and reading one position from its map."""
    import asyncio

    from isolane.linker import Module, ModuleType, SourceMap, link
    from isolane.linker.imports import _parser, find_imports

    module = Module("worker.js", ModuleType.ESM, big_module(size, "a", exported=True))

    def timed(label: str, run):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        result = run()
        print(f"  {label:<40} {time.perf_counter() - started:6.2f} s")
        return result

    print(f"link step of a {size / 2**20:.1f} MiB module of exported functions, in process:")
    timed("tree-sitter parse", lambda: _parser(ModuleType.ESM).parse(module.content))
    timed("import scan (parse included)", lambda: find_imports(module))
    linked = timed("whole link (scan, bundler, map)", lambda: asyncio.run(link([module], "worker.js")))
    print(f"  {'(script, source map)':<40} {len(linked.code) / 2**20:6.1f} MiB, {len(linked.source_map) / 2**20:.1f} MiB")
    line = linked.code.count("\n") - 5
    timed("first position read from its map", lambda: SourceMap.parse(linked.source_map).original(line, 3))


class Victim:
    """Invokes a script in a loop from its own thread; records each request's latency."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.latencies_ms: list[float] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=120) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    response = client.get(self.url)
                    failure = "" if response.status_code == 200 else f"{response.status_code} {response.text[:120]}"
                except httpx.HTTPError as exc:
                    failure = f"{type(exc).__name__}: {exc}"
                if failure:
                    self.failures.append(failure)
                else:
                    self.latencies_ms.append((time.perf_counter() - started) * 1000)
                self._stop.wait(0.01)

    def __enter__(self) -> Victim:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> str:
        ms = self.latencies_ms or [0.0]
        return (
            f"victim: {len(self.latencies_ms)} ok, {len(self.failures)} failed {self.failures[:2]}, p50 {statistics.median(ms):7.1f} ms,"
            f" p99 {percentile(ms, 0.99):7.1f} ms, max {max(ms):7.1f} ms"
        )


def upload(server: Server, name: str, body: bytes) -> tuple[float, int, str]:
    with server.client(TOKEN, timeout=300) as client:
        started = time.perf_counter()
        response = client.put(f"/v1/namespaces/mallory/scripts/{name}", content=body, headers=MODULE)
        elapsed = time.perf_counter() - started
    code = response.json().get("error", {}).get("code", "") if response.status_code >= 400 else ""
    return elapsed, response.status_code, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=float, default=9.5, help="size of the big module, MB (default 9.5)")
    parser.add_argument("--parallel", type=int, default=3, help="big uploads at once in the second round (default 3)")
    parser.add_argument("--small", type=int, default=30, help="small uploads timed (default 30)")
    parser.add_argument("--baseline", type=float, default=3.0, help="seconds of victim latency before any upload")
    parser.add_argument("--phases", action="store_true", help="only time the link step's phases, in this process")
    parser.add_argument("server_args", nargs="*", help="`isolane serve` options (after --)")
    args = parser.parse_args()
    if args.phases:
        phases(int(args.size * 1024 * 1024))
        return

    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "data", *args.server_args, admin_token=TOKEN).start()
        try:
            with server.admin() as admin:
                for ns in ("victim", "mallory"):
                    admin.put(f"/v1/namespaces/{ns}").raise_for_status()
                admin.put("/v1/namespaces/victim/scripts/steady", content=VICTIM, headers=MODULE).raise_for_status()
            victim_url = f"{server.url}/v1/namespaces/victim/scripts/steady/invoke/"

            small = []
            for index in range(args.small):
                body = f"export default {{ fetch() {{ return new Response('small {index}'); }} }};\n".encode()
                elapsed, status, code = upload(server, "small", body)
                assert status in (200, 201), (status, code)
                small.append(elapsed * 1000)
            print(f"small upload (one module, {len(body)} bytes)          p50 {statistics.median(small):7.1f} ms,"
                  f" p99 {percentile(small, 0.99):7.1f} ms (n={len(small)})")

            with Victim(victim_url) as quiet:
                time.sleep(args.baseline)
            print(f"{'no upload':<44} {quiet.summary()}")

            size = int(args.size * 1024 * 1024)
            rounds = [
                ("refused at its end (link step only)", [big_module(size, "r", refused=True)]),
                ("that links and deploys", [big_module(size, "a")]),
                (f"x{args.parallel} at once, refused", [big_module(size, f"p{i}x", refused=True) for i in range(args.parallel)]),
            ]
            for label, bodies in rounds:
                with Victim(victim_url) as during, Victim(f"{server.url}/healthz") as health, ThreadPoolExecutor(len(bodies)) as pool:
                    time.sleep(0.3)
                    results = list(pool.map(lambda item: upload(server, f"big{item[0]}", item[1]), enumerate(bodies)))
                answers = ", ".join(f"{status} {code}".strip() + f" in {elapsed:.1f} s" for elapsed, status, code in results)
                print(f"{args.size} MB upload {label}: {answers}")
                print(f"{'  invocations of another tenant':<44} {during.summary()}")
                print(f"{'  GET /healthz':<44} {health.summary()}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
