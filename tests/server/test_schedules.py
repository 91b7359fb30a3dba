"""Cron triggers over HTTP: schedules (metadata and PUT), validation, the test endpoint, and
ticks run once when two servers share one database."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from isolane.testing import Server
from tests.conftest import deploy, multipart_upload

SCHEDULED = """
export default {
  async scheduled(controller, env, ctx) {
    ctx.waitUntil(Promise.resolve().then(() => console.log("later")));
    console.log(JSON.stringify({ cron: controller.cron, time: controller.scheduledTime, type: controller.type }));
    controller.noRetry();
  },
  fetch() { return new Response("ok"); },
};
"""

BASE = "/v1/namespaces/default/scripts"


def schedules_of(client: httpx.Client, name: str) -> list[str]:
    response = client.get(f"{BASE}/{name}/schedules")
    assert response.status_code == 200, response.text
    return [item["cron"] for item in response.json()["items"]]


def test_schedules_from_metadata_and_put(admin: httpx.Client) -> None:
    meta = {"main_module": "main.js", "triggers": {"crons": ["*/5 * * * *", "0  12 * * MON-FRI"]}}
    response = admin.put(f"{BASE}/cron-meta", files=multipart_upload({"main.js": (SCHEDULED, "application/javascript+module")}, meta))
    assert response.status_code == 201, response.text
    assert "scheduled" in response.json()["handlers"]
    assert schedules_of(admin, "cron-meta") == ["*/5 * * * *", "0 12 * * MON-FRI"]  # normalized

    # PUT replaces, in either shape.
    response = admin.put(f"{BASE}/cron-meta/schedules", json={"crons": ["0 0 * * *"]})
    assert response.status_code == 200, response.text
    assert [item["cron"] for item in response.json()["items"]] == ["0 0 * * *"]
    response = admin.put(f"{BASE}/cron-meta/schedules", json=[{"cron": "15 * * * *"}, {"cron": "0 0 * * *"}])
    assert response.status_code == 200, response.text
    assert sorted(schedules_of(admin, "cron-meta")) == ["0 0 * * *", "15 * * * *"]

    # An upload without triggers keeps them; one with triggers replaces them; [] clears.
    deploy(admin, "cron-meta", SCHEDULED)
    assert sorted(schedules_of(admin, "cron-meta")) == ["0 0 * * *", "15 * * * *"]
    meta["triggers"] = {"crons": []}
    response = admin.put(f"{BASE}/cron-meta", files=multipart_upload({"main.js": (SCHEDULED, "application/javascript+module")}, meta))
    assert response.status_code == 200, response.text
    assert schedules_of(admin, "cron-meta") == []


def test_invalid_schedules(admin: httpx.Client) -> None:
    deploy(admin, "cron-invalid", SCHEDULED)
    for body in (
        {"crons": ["* * * *"]},
        {"crons": ["61 * * * *"]},
        {"crons": ["* * * * FOO"]},
        {"crons": ["@daily"]},
        {"crons": [5]},
        {"crons": "* * * * *"},
        {"nothing": []},
        {"crons": [f"{i} * * * *" for i in range(11)]},
    ):
        response = admin.put(f"{BASE}/cron-invalid/schedules", json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["code"] in ("invalid_cron", "too_many_schedules")
    meta = {"main_module": "main.js", "triggers": {"crons": ["*/70 * * * *"]}}
    response = admin.put(f"{BASE}/cron-invalid", files=multipart_upload({"main.js": (SCHEDULED, "application/javascript+module")}, meta))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_cron"
    assert admin.put(f"{BASE}/no-such-script/schedules", json={"crons": []}).status_code == 404
    assert admin.get(f"{BASE}/no-such-script/schedules").status_code == 404


def test_the_test_endpoint_runs_scheduled_once(admin: httpx.Client) -> None:
    deploy(admin, "cron-test", SCHEDULED)
    response = admin.post(f"{BASE}/cron-test/schedules/test", json={"cron": "*/5 * * * *"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["outcome"] == "ok" and body["cron"] == "*/5 * * * *"
    assert response.headers["x-isolane-invocation"] == body["invocation_id"]
    messages = [log["message"] for log in body["logs"]]
    assert '{"cron":"*/5 * * * *","time":%d,"type":"scheduled"}' % body["scheduled_time"] in messages
    assert "later" in messages  # ctx.waitUntil is awaited

    record = _record(admin, body["invocation_id"])
    assert record["trigger"] == "cron" and record["outcome"] == "ok" and record["script"] == "cron-test"

    # An exception is an outcome, not an error of the endpoint.
    deploy(admin, "cron-throws", "export default { scheduled() { throw new Error('boom'); } };")
    body = admin.post(f"{BASE}/cron-throws/schedules/test").json()
    assert body["outcome"] == "exception" and "boom" in body["error"]["message"]

    deploy(admin, "cron-fetch-only", "export default { fetch() { return new Response('x'); } };")
    response = admin.post(f"{BASE}/cron-fetch-only/schedules/test")
    assert response.status_code == 404 and response.json()["error"]["code"] == "no_scheduled_handler"
    response = admin.post(f"{BASE}/cron-test/schedules/test", json={"cron": "nope"})
    assert response.status_code == 400


def test_service_worker_scheduled_event(admin: httpx.Client) -> None:
    code = "addEventListener('scheduled', (event) => { event.waitUntil(Promise.resolve().then(() => console.log('sw', event.cron))); });"
    info = deploy(admin, "cron-sw", code, content_type="application/javascript")
    assert info["handlers"] == ["scheduled"]
    body = admin.post(f"{BASE}/cron-sw/schedules/test", json={"cron": "0 * * * *"}).json()
    assert body["outcome"] == "ok", body
    assert [log["message"] for log in body["logs"]] == ["sw 0 * * * *"]


def _record(client: httpx.Client, invocation_id: str) -> dict:
    deadline = time.monotonic() + 10
    while True:  # records are written in batches
        response = client.get(f"/v1/invocations/{invocation_id}")
        if response.status_code == 200 or time.monotonic() > deadline:
            assert response.status_code == 200, response.text
            return response.json()
        time.sleep(0.1)


def test_ticks_run_once_across_two_servers(make_server: Callable[..., Server], tmp_path: Path) -> None:
    """Two servers share one data dir; an every-2-seconds cron (the seconds extension) runs
    each tick on exactly one of them, recorded with trigger "cron"."""
    data = tmp_path / "shared"
    first = make_server(data_dir=data)
    with first.admin() as client:
        meta = {"main_module": "main.js", "triggers": {"crons": ["*/2 * * * * *"]}}
        response = client.put(f"{BASE}/ticker", files=multipart_upload({"main.js": (SCHEDULED, "application/javascript+module")}, meta))
        assert response.status_code == 201, response.text
        # A script with a schedule but no scheduled handler is skipped.
        deploy(client, "no-handler", "export default { fetch() { return new Response('x'); } };")
        assert client.put(f"{BASE}/no-handler/schedules", json={"crons": ["* * * * * *"]}).status_code == 200
    second = make_server(data_dir=data)
    started = time.time()
    time.sleep(7)
    database = next(data.glob("*.db"))
    deadline = time.monotonic() + 10
    while True:
        with sqlite3.connect(database) as conn:
            leases = conn.execute("SELECT tick, invocation_id FROM cron_leases WHERE script = 'ticker' ORDER BY tick").fetchall()
            records = conn.execute(
                "SELECT id, trigger, outcome, logs FROM invocations WHERE script = 'ticker' ORDER BY started_at"
            ).fetchall()
            other = conn.execute("SELECT count(*) FROM invocations WHERE script = 'no-handler'").fetchone()[0]
        if len(records) >= len(leases) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    ticks = [tick for tick, _ in leases]
    assert len(ticks) >= 3, (leases, first.log(), second.log())
    assert len(set(ticks)) == len(ticks)
    assert all(tick % 2000 == 0 for tick in ticks)
    assert all(b - a == 2000 for a, b in zip(ticks, ticks[1:])), ticks  # no tick missed
    assert ticks[0] >= int(started * 1000) - 4000
    # One record per tick, each with trigger "cron", ids matching the leases.
    assert sorted(r[0] for r in records) == sorted(i for _, i in leases), (records, leases)
    assert all(r[1] == "cron" and r[2] == "ok" for r in records)
    times = sorted(int(__import__("json").loads(r[3])[0]["message"].split('"time":')[1].split(",")[0]) for r in records)
    assert times == ticks
    assert other == 0


def test_bodies_their_models_refuse_change_nothing(admin: httpx.Client) -> None:
    """SchedulesPut and ScheduleTestRequest validate the bodies: shapes the platform alone
    took (forms mixed, eleven copies of one cron, unknown fields) are 400s naming the field;
    the schedules stay and nothing runs."""
    deploy(admin, "cron-modeled", SCHEDULED)
    assert admin.put(f"{BASE}/cron-modeled/schedules", json={"crons": ["0 0 * * *"]}).status_code == 200
    for body, code, where in (
        ({"crons": [{"cron": "15 * * * *"}]}, "invalid_cron", "object.crons[0]:"),
        (["15 * * * *"], "invalid_cron", "array[0]:"),
        ({"crons": ["15 * * * *"] * 11}, "too_many_schedules", "object.crons:"),
        ("15 * * * *", "invalid_cron", "the body:"),
    ):
        response = admin.put(f"{BASE}/cron-modeled/schedules", json=body)
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == code and error["message"].startswith(where), error
    assert schedules_of(admin, "cron-modeled") == ["0 0 * * *"]

    for body, code in (({"cron": "*/5 * * * *", "at": 0}, "invalid_request"), ({"cron": 5}, "invalid_cron"), (["*/5 * * * *"], "invalid_json")):
        response = admin.post(f"{BASE}/cron-modeled/schedules/test", json=body)
        assert response.status_code == 400 and response.json()["error"]["code"] == code, response.text
    ran = admin.post(f"{BASE}/cron-modeled/schedules/test", json={"cron": "*/5 * * * *"}).json()["invocation_id"]
    deadline = time.monotonic() + 10
    while True:  # listed once stored (records are written in batches)
        listed = admin.get(f"{BASE}/cron-modeled/invocations", params={"trigger": "cron"}).json()["items"]
        if listed or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    time.sleep(0.2)  # anything a refused body ran would be stored by now too
    listed = admin.get(f"{BASE}/cron-modeled/invocations", params={"trigger": "cron"}).json()["items"]
    assert [item["id"] for item in listed] == [ran]  # the refused ones never ran


def test_crons_from_upload_metadata_start_at_once(make_server: Callable[..., Server]) -> None:
    """Issue 17, 9: an upload's crons took effect at the next minute boundary only, while
    the same crons set with `PUT .../schedules` started at once."""
    server = make_server("--executors", "1")
    with server.admin() as client:
        # The server has looked at its (empty) schedules already, and sleeps to the minute.
        time.sleep(1.5)
        meta = {"main_module": "main.js", "triggers": {"crons": ["* * * * * *"]}}
        response = client.put(f"{BASE}/at-once", files=multipart_upload({"main.js": (SCHEDULED, "application/javascript+module")}, meta))
        assert response.status_code == 201, response.text
        uploaded = time.monotonic()
        while not client.get(f"{BASE}/at-once/invocations").json()["items"]:
            assert time.monotonic() - uploaded < 5, "the upload's every-second cron did not run within 5 s"
            time.sleep(0.1)
