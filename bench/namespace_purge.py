"""Benchmark of deleting a big namespace: N invocation records (1 KiB of logs each, written
straight into the database) and N/10 usage rows are purged by `DELETE /v1/namespaces/big`
while another tenant is invoked; prints the deletion's time and the other tenant's latencies.

Run: `python bench/namespace_purge.py 100000`.
"""
import json, sqlite3, statistics, sys, tempfile, threading, time
from pathlib import Path
import httpx
from isolane.testing import Server
TOKEN = "isl_bench_token_0123456789"
n = int(sys.argv[1])
with tempfile.TemporaryDirectory() as tmp:
    data = Path(tmp) / "data"
    server = Server(data, admin_token=TOKEN).start()
    try:
        with server.admin() as admin:
            admin.put("/v1/namespaces/big"); admin.put("/v1/namespaces/victim")
            admin.put("/v1/namespaces/victim/scripts/v", content="export default { fetch() { return new Response('ok') } }", headers={"content-type": "application/javascript+module"})
        created = sqlite3.connect(data / "isolane.db").execute("SELECT created_at FROM namespaces WHERE name='big'").fetchone()[0]
        logs = json.dumps([{"level": "log", "message": "x" * 1000, "time": 0}])
        db = sqlite3.connect(data / "isolane.db", timeout=30)
        for start in range(0, n, 10_000):
            db.executemany("INSERT INTO invocations (id, namespace, script, version, trigger, started_at, outcome, status, cpu_ms, wall_ms, logs, error, subrequests, stored_at, instance) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(f"{created + i:012x}{i:020x}", "big", f"s{i % 100}", "v", "fetch", created + i, "ok", 200, 1.0, 1.0, logs, None, 0, created + i, "x") for i in range(start, min(n, start + 10_000))])
            db.commit()
        db.executemany("INSERT INTO usage_hourly (namespace, script, hour, invocations) VALUES (?,?,?,1)", [("big", f"s{i % 100}", i * 3_600_000) for i in range(n // 10)])
        db.commit(); db.close()
        latencies, stop = [], threading.Event()
        def victim():
            with httpx.Client(timeout=30) as c:
                while not stop.is_set():
                    t = time.perf_counter(); c.get(f"{server.url}/v1/namespaces/victim/scripts/v/invoke/"); latencies.append((time.perf_counter() - t) * 1000)
                    time.sleep(0.01)
        thread = threading.Thread(target=victim); thread.start(); time.sleep(0.5); latencies.clear()
        t = time.perf_counter()
        with server.admin() as admin:
            r = admin.delete("/v1/namespaces/big", timeout=600)
        took = time.perf_counter() - t
        stop.set(); thread.join()
        left = sqlite3.connect(data / "isolane.db").execute("SELECT count(*) FROM invocations WHERE namespace='big'").fetchone()[0]
        print(f"{n} records + {n // 10} usage rows: DELETE {r.status_code} in {took:.2f} s ({left} left); other tenant during it: {len(latencies)} requests,"
              f" p50 {statistics.median(latencies):.1f} ms, max {max(latencies):.1f} ms")
    finally:
        server.stop()
