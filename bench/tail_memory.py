"""Benchmark of the live tail's memory: the resident size of an `isolane serve` process while
slow tails (opened, never read) watch a script whose records carry 256 Ki characters of
logs, and the bytes the tail hub says it holds (`isolane_tail_buffered_bytes`).

Run: `python bench/tail_memory.py TAILS RECORDS` (e.g. `1 300`, `10 300`, `0 300` for the
records' own cost). Another checkout is measured with `PYTHONPATH=/path/to/it`.
"""
import socket, sys, tempfile, time
from pathlib import Path
import httpx
import isolane
from isolane.testing import Server

TOKEN = "isl_bench_token_0123456789"
BIG = """export default { fetch() { const line = "y".repeat(16000); for (let i = 0; i < 16; i++) console.log(i, line); return new Response("ok"); } };"""

def rss_mib(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0

def main() -> None:
    tails, records = int(sys.argv[1]), int(sys.argv[2])
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "data", "--executors", "1", admin_token=TOKEN).start()
        try:
            with server.admin() as admin:
                admin.put("/v1/namespaces/bench")
                admin.put("/v1/namespaces/bench/scripts/big", content=BIG, headers={"content-type": "application/javascript+module"})
            url = f"{server.url}/v1/namespaces/bench/scripts/big/invoke/"
            with httpx.Client(timeout=30) as client:
                for _ in range(20):
                    client.get(url)
                time.sleep(1)
                base = rss_mib(server.process.pid)
                socks = []
                for _ in range(tails):
                    sock = socket.create_connection(("127.0.0.1", server.port))
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
                    sock.sendall(f"GET /v1/namespaces/bench/scripts/big/tail HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
                    socks.append(sock)
                time.sleep(0.5)
                for _ in range(records):
                    client.get(url)
                time.sleep(2)
                after = rss_mib(server.process.pid)
                metrics = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
                held = [l for l in metrics.splitlines() if l.startswith("isolane_tail_buffered_bytes ")]
            print(f"{isolane.__file__.split('/isolane/')[0]}: {tails} slow tails, {records} records of 256 Ki chars:"
                  f" RSS {base:.0f} -> {after:.0f} MiB (+{after - base:.0f}); {held[0] if held else 'no buffered-bytes metric'}")
            for sock in socks:
                sock.close()
        finally:
            server.stop()

main()
