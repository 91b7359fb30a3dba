"""Deleting a namespace deletes everything it owns, its history too: a namespace created
again under the same name finds nothing of the old one (records, usage, schedules, cron
leases, KV, secrets, tokens, its rate bucket), records of invocations still running are
not kept, open tails end on every server, and a deletion a crash interrupted is finished
before the name is taken again."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import func, insert, select

from isolane.observability.records import InvocationRecord, RecordStore, RecordSweeper
from isolane.platform import deletion
from isolane.platform.namespaces import NamespaceService
from isolane.store.database import Database
from isolane.store.schema import cron_leases, invocations, namespace_deletions, namespaces, usage_hourly
from isolane.testing import Server
from tests.conftest import invoke
from tests.observability.test_tail import tail

NS = "recycled"
SCRIPT = """
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/slow") await new Promise((resolve) => setTimeout(resolve, 1500));
    console.log("the old tenant's log line", url.pathname);
    return new Response("old tenant: " + env.SECRET);
  },
  scheduled(controller) { console.log("old tenant's cron", controller.cron); },
};
"""

HISTORY = {"invocations": "namespace", "usage_hourly": "namespace", "cron_leases": "namespace"}


def rows_of(data_dir: Path, namespace: str) -> dict[str, int]:
    """What the database holds under the namespace's name, table by table."""
    with sqlite3.connect(data_dir / "isolane.db") as db:
        counts = {table: db.execute(f"SELECT count(*) FROM {table} WHERE {column} = ?", (namespace,)).fetchone()[0] for table, column in HISTORY.items()}
        counts["kv_namespaces"] = db.execute("SELECT count(*) FROM kv_namespaces WHERE namespace = ?", (namespace,)).fetchone()[0]
        counts["tokens"] = db.execute("SELECT count(*) FROM tokens WHERE scope = ?", (f"namespace:{namespace}",)).fetchone()[0]
        counts["rate_buckets"] = db.execute("SELECT count(*) FROM rate_buckets WHERE namespace = ?", (namespace,)).fetchone()[0]
        counts["secrets"] = db.execute("SELECT count(*) FROM secrets WHERE namespace = ?", (namespace,)).fetchone()[0]
        counts["schedules"] = db.execute("SELECT count(*) FROM schedules WHERE namespace = ?", (namespace,)).fetchone()[0]
    return counts


def wait_for(condition, timeout: float = 15.0, what: str = "condition"):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return result


def populate(server: Server) -> dict:
    """A tenant that used everything: a script with a secret, KV, a schedule ticking every
    second, invocations (records and usage), and a rate quota it exhausted."""
    with server.admin() as admin:
        assert admin.put(f"/v1/namespaces/{NS}", json={"quotas": {"requests_per_second": 0.01, "burst": 5}}).status_code == 201
        token = admin.post("/v1/tokens", json={"name": "old tenant", "scope": f"namespace:{NS}"}).json()["token"]
    with server.client(token) as tenant:
        kv = tenant.post("/v1/kv/namespaces", json={"title": "data", "namespace": NS}).json()["id"]
        assert tenant.put(f"/v1/kv/namespaces/{kv}/values/k", content=b"old tenant's KV value").status_code == 200
        upload = tenant.put(f"/v1/namespaces/{NS}/scripts/app", content=SCRIPT, headers={"content-type": "application/javascript+module"})
        assert upload.status_code == 201, upload.text
        assert tenant.put(f"/v1/namespaces/{NS}/scripts/app/schedules", json={"crons": ["* * * * * *"]}).status_code == 200
        secret = tenant.put(f"/v1/namespaces/{NS}/scripts/app/secrets", json={"name": "SECRET", "text": "old-secret"})
        assert secret.status_code in (200, 201), secret.text
        ids = []
        for _ in range(5):  # the burst: the sixth is refused
            response = invoke(server, NS, "app", "/hello")
            assert response.status_code == 200 and response.text == "old tenant: old-secret", response.text
            ids.append(response.headers["x-isolane-invocation"])
        assert invoke(server, NS, "app", "/hello").status_code == 429
        wait_for(lambda: tenant.get(f"/v1/namespaces/{NS}/usage").json()["totals"]["invocations"] >= 5, what="usage")
        records = wait_for(
            lambda: [r for r in tenant.get(f"/v1/namespaces/{NS}/scripts/app/invocations").json()["items"] if r["trigger"] == "cron"],
            what="a cron record",
        )
    return {"token": token, "kv": kv, "ids": ids, "cron_id": records[0]["id"]}


def test_a_namespace_created_again_finds_nothing_of_the_deleted_one(make_server, tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = make_server(data_dir=data)
    old = populate(server)
    before = rows_of(data, NS)
    assert all(before[table] > 0 for table in HISTORY) and before["kv_namespaces"] and before["tokens"] and before["rate_buckets"]

    with server.admin() as admin, tail(server.url, "app", ns=NS) as reader:
        deleted = admin.delete(f"/v1/namespaces/{NS}")
        assert deleted.status_code == 200 and deleted.json() == {"name": NS, "deleted": True}
        wait_for(lambda: reader.next()[0] == "closed", timeout=5, what="the tail to end")  # at once, on this server

    # (A cron tick claimed in the very instant of the deletion can leave its lease behind: the
    # purge that comes with creating the name again takes it, checked below.)
    assert {table: count for table, count in rows_of(data, NS).items() if count and table != "cron_leases"} == {}
    with server.client(old["token"]) as tenant:
        assert tenant.get(f"/v1/namespaces/{NS}").status_code == 401

    with server.admin() as admin:
        started = time.monotonic()
        created = admin.put(f"/v1/namespaces/{NS}", json={"quotas": {"requests_per_second": 0.01, "burst": 5}})
        assert created.status_code == 201, created.text
        assert time.monotonic() - started < 10  # at most the few seconds other servers' caches need
        token = admin.post("/v1/tokens", json={"name": "new tenant", "scope": f"namespace:{NS}"}).json()["token"]
        for record_id in (*old["ids"], old["cron_id"]):
            assert admin.get(f"/v1/invocations/{record_id}").status_code == 404
        assert admin.get(f"/v1/kv/namespaces/{old['kv']}").status_code == 404

    with server.client(token) as tenant:
        assert tenant.get(f"/v1/namespaces/{NS}/scripts").json()["items"] == []
        assert tenant.get(f"/v1/namespaces/{NS}/scripts/app/invocations").json()["items"] == []
        usage = tenant.get(f"/v1/namespaces/{NS}/usage").json()
        assert usage["totals"]["invocations"] == 0 and usage["scripts"] == [] and usage["hours"] == []
        assert tenant.get(f"/v1/kv/namespaces", params={"namespace": NS}).json()["items"] == []
        assert [t["name"] for t in tenant.get("/v1/tokens").json()["items"]] == ["new tenant"]
        assert tenant.get(f"/v1/namespaces/{NS}/scripts/app/schedules").status_code == 404
        # The same code deployed again: no secret of the old one, a full rate bucket.
        upload = tenant.put(f"/v1/namespaces/{NS}/scripts/app", content=SCRIPT, headers={"content-type": "application/javascript+module"})
        assert upload.status_code == 201, upload.text
        for _ in range(5):
            response = invoke(server, NS, "app", "/again")
            assert response.status_code == 200 and response.text == "old tenant: undefined", response.text
        time.sleep(1.5)  # a tick of the old seconds schedule would have run by now
        items = wait_for(lambda: (found := tenant.get(f"/v1/namespaces/{NS}/scripts/app/invocations").json()["items"]) and len(found) >= 5 and found)
        assert {item["trigger"] for item in items} == {"fetch"} and len(items) == 5
        assert all(entry["message"].endswith("/again") for item in items for entry in item["logs"])
    assert rows_of(data, NS)["cron_leases"] == 0


def test_records_of_invocations_running_during_the_deletion_are_not_kept(make_server, tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = make_server(data_dir=data)
    with server.admin() as admin:
        admin.put(f"/v1/namespaces/{NS}")
        response = admin.put(f"/v1/namespaces/{NS}/scripts/app", content=SCRIPT, headers={"content-type": "application/javascript+module"})
        assert response.status_code == 201
        assert invoke(server, NS, "app", "/warm").status_code == 200

        answers: list[httpx.Response] = []
        running = threading.Thread(target=lambda: answers.append(invoke(server, NS, "app", "/slow")))
        running.start()
        time.sleep(0.5)  # it runs (1.5 s)
        assert admin.delete(f"/v1/namespaces/{NS}").status_code == 200
        assert admin.put(f"/v1/namespaces/{NS}").status_code == 201  # again, before it ends
        running.join(10)
        assert answers and answers[0].status_code == 200  # it ran to its end...
        old_id = answers[0].headers["x-isolane-invocation"]
        time.sleep(1.0)  # the record writer's batch
        assert admin.get(f"/v1/invocations/{old_id}").status_code == 404  # ...and its record went nowhere
        assert admin.get(f"/v1/namespaces/{NS}/usage").json()["totals"]["invocations"] == 0
    assert rows_of(data, NS)["invocations"] == 0 and rows_of(data, NS)["usage_hourly"] == 0
    assert "discarded 1 invocation records of deleted namespaces" in server.log()


def test_a_tail_on_another_server_ends_when_the_namespace_is_deleted(make_server, tmp_path: Path) -> None:
    data = tmp_path / "shared"
    first = make_server(data_dir=data)
    second = make_server(data_dir=data)
    with first.admin() as admin:
        admin.put(f"/v1/namespaces/{NS}")
        admin.put(f"/v1/namespaces/{NS}/scripts/app", content=SCRIPT, headers={"content-type": "application/javascript+module"})
    with tail(second.url, "app", ns=NS) as reader:
        invoke(first, NS, "app", "/seen")
        assert reader.invocations(1, timeout=15)[0]["logs"][0]["message"].endswith("/seen")
        with first.admin() as admin:
            assert admin.delete(f"/v1/namespaces/{NS}").status_code == 200
        started = time.monotonic()
        while (event := reader.next(timeout=10)[0]) != "closed":
            assert event != "invocation", event
        assert time.monotonic() - started < 5  # the second server's next poll (0.5 s)


# ---- in-process: the writer, and a deletion interrupted half-way


def record(namespace: str, started_at: int, n: int) -> InvocationRecord:
    return InvocationRecord(
        namespace=namespace, script="s", version="v", trigger="fetch", outcome="ok", cpu_ms=1, wall_ms=1,
        started_at=started_at, id=f"{started_at:012x}{n:020x}",
    )


def test_the_writer_keeps_only_records_of_the_namespace_they_ran_in(tmp_path: Path) -> None:
    async def scenario() -> None:
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
        await db.migrate()
        async with db.transaction() as conn:
            await conn.execute(insert(namespaces).values(name="kept", created_at=1_000_000))
            await conn.execute(insert(namespaces).values(name="again", created_at=2_000_000))  # created after its old records
        store = RecordStore(db)
        await store._write(
            [
                record("kept", 1_000_000, 1),
                record("kept", 999_500, 2),  # another server's clock a little behind: kept
                record("gone", 1_500_000, 3),  # its namespace was deleted
                record("again", 1_500_000, 4),  # the deleted one's, of the same name
                record("again", 2_000_001, 5),
            ]
        )
        async with db.connect() as conn:
            stored = sorted((await conn.execute(select(invocations.c.namespace, invocations.c.started_at))).all())
            counted = sorted((await conn.execute(select(usage_hourly.c.namespace, usage_hourly.c.invocations))).all())
        assert stored == [("again", 2_000_001), ("kept", 999_500), ("kept", 1_000_000)]
        assert counted == [("again", 1), ("kept", 2)]
        assert store.discarded == 2
        await db.close()

    asyncio.run(scenario())


def test_a_deletion_interrupted_half_way_is_finished_before_the_name_is_taken_again(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(deletion, "SETTLE_MS", 200)

    async def history(db: Database, name: str) -> int:
        async with db.connect() as conn:
            return sum(
                [
                    (await conn.execute(select(func.count()).select_from(table).where(table.c.namespace == name))).scalar_one()
                    for table in (invocations, usage_hourly, cron_leases)
                ]
            )

    async def scenario() -> None:
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'd.db'}")
        await db.migrate()
        service = NamespaceService(db)
        store = RecordStore(db)
        for name in ("crashed", "abandoned"):
            await service.ensure(name)
            async with db.transaction() as conn:
                await conn.execute(insert(cron_leases).values(namespace=name, script="s", cron="* * * * *", tick=1, claimed_at=1))
            offset = 0 if name == "crashed" else 10_000
            await store._write([record(name, 10**13 + n, offset + n) for n in range(1200)])  # more than two batches
            assert await history(db, name) == 1200 + 1 + 1
            async with db.transaction() as conn:  # the deletion's transaction, then a crash
                assert await deletion.remove(conn, name)

        # The name taken again: the purge is finished first.
        _, created = await service.ensure("crashed")
        assert created and await history(db, "crashed") == 0
        # A name nobody takes again: the background sweep finishes it once it has settled.
        await asyncio.sleep(0.3)
        sweeper = RecordSweeper(db, max_age_days=0, max_per_script=0, period_seconds=60, also=(service.finish_deletions,))
        await sweeper.sweep()
        assert await history(db, "abandoned") == 0
        async with db.connect() as conn:
            assert (await conn.execute(select(namespace_deletions))).all() == []
        await db.close()

    asyncio.run(scenario())
