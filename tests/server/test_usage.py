"""Usage per namespace and script: exactly the invocations made, per hour and per script,
counted from the same records the invocation endpoints return."""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import deploy, execute, invoke, upload

NS = "usage-a"
HOUR = timedelta(hours=1)

# One script for every outcome the test needs; a denied fetch still counts as a subrequest.
WORKER = """
export default {
  async fetch(request) {
    const path = new URL(request.url).pathname;
    if (path === "/throw") throw new Error("on purpose");
    if (path === "/spin") for (;;) {}
    if (path === "/fetch") {
      for (let i = 0; i < 2; i++) {
        try { await fetch("http://127.0.0.1:9/"); } catch {}
      }
    }
    return new Response("ok " + path);
  },
};
"""

ZERO_ERRORS = {"exception": 0, "exceededCpu": 0, "exceededMemory": 0, "exceededWallTime": 0, "canceled": 0}


def usage(client: httpx.Client, ns: str = NS, **params: str) -> httpx.Response:
    return client.get(f"/v1/namespaces/{ns}/usage", params=params)


def wait_for(client: httpx.Client, invocations: int, ns: str = NS, **params: str) -> dict:
    """Records are flushed every ~50 ms: poll until they are all counted, then check that
    nothing more arrives (each record is counted once)."""
    deadline = time.monotonic() + 10
    while True:
        body = usage(client, ns, **params).json()
        if body["totals"]["invocations"] >= invocations:
            break
        assert time.monotonic() < deadline, body
        time.sleep(0.05)
    time.sleep(0.3)
    again = usage(client, ns, **params).json()
    assert again == body
    assert body["totals"]["invocations"] == invocations, body
    return body


def parse(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def hour_start(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@pytest.fixture(scope="module")
def made(server) -> dict:
    """Invocations on two scripts of a fresh namespace, and their records."""
    with server.admin() as admin:
        assert admin.put(f"/v1/namespaces/{NS}").status_code in (200, 201)
        deploy(admin, "counter", WORKER, ns=NS)
        deploy(admin, "other", WORKER, ns=NS)
        paths = {"counter": ["/"] * 5 + ["/throw"] * 2 + ["/spin", "/fetch"], "other": ["/a", "/b", "/c", "/throw"]}
        ids = {}
        for script, script_paths in paths.items():
            ids[script] = [invoke(server, NS, script, path).headers["x-isolane-invocation"] for path in script_paths]
        records = {}
        deadline = time.monotonic() + 10
        for script, invocation_ids in ids.items():
            records[script] = []
            for invocation_id in invocation_ids:
                while (response := admin.get(f"/v1/invocations/{invocation_id}")).status_code == 404:
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
                records[script].append(response.json())
    return records


def expected_counters(records: list[dict]) -> dict:
    errors = dict(ZERO_ERRORS)
    for record in records:
        if record["outcome"] != "ok":
            errors[record["outcome"]] += 1
    return {
        "invocations": len(records),
        "errors": errors,
        "cpu_ms": sum(record["cpu_ms"] for record in records),
        "wall_ms": sum(record["wall_ms"] for record in records),
        "subrequests": sum(record["subrequests"] for record in records),
    }


def late_cpu_ms(client: httpx.Client, ns: str = NS) -> float:
    """CPU that isolates ended by a limit burnt after the record was written: usage counts it
    too (the /spin invocation's overrun), and /metrics says how much it was."""
    prefix = f'isolane_cpu_after_limit_seconds_total{{namespace="{ns}"}} '
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(prefix):
            return float(line.split()[-1]) * 1000
    return 0.0


def assert_counters(got: dict, records: list[dict], late_cpu: float = 0.0) -> None:
    expected = expected_counters(records)
    expected["cpu_ms"] += late_cpu
    for name in ("invocations", "errors", "subrequests"):
        assert got[name] == expected[name], (name, got, expected)
    for name in ("cpu_ms", "wall_ms"):  # sums of the records' own figures (rounded to µs)
        assert got[name] == pytest.approx(expected[name], abs=0.01), (name, got, expected)


def test_usage_equals_the_invocations_made(admin, made) -> None:
    body = wait_for(admin, 13)
    assert body["namespace"] == NS and body["script"] is None
    everything = made["counter"] + made["other"]
    late = late_cpu_ms(admin)
    assert_counters(body["totals"], everything, late)
    assert body["totals"]["invocations"] == 13
    assert body["totals"]["errors"] == {**ZERO_ERRORS, "exception": 3, "exceededCpu": 1}
    assert body["totals"]["subrequests"] == 2

    assert [entry["script"] for entry in body["scripts"]] == ["counter", "other"]
    counter, other = body["scripts"]
    assert_counters(counter, made["counter"], late)  # the script with /spin
    assert_counters(other, made["other"])
    assert counter["invocations"] == 9 and counter["errors"]["exceededCpu"] == 1 and counter["subrequests"] == 2
    assert other["invocations"] == 4 and other["errors"] == {**ZERO_ERRORS, "exception": 1}


def test_invocations_count_in_the_hour_they_started(admin, made) -> None:
    body = wait_for(admin, 13)
    by_hour: dict[str, list[dict]] = {}
    for record in made["counter"] + made["other"]:
        by_hour.setdefault(iso(hour_start(parse(record["started_at"]))), []).append(record)
    assert [entry["hour"] for entry in body["hours"]] == sorted(by_hour)  # only hours with invocations
    late = late_cpu_ms(admin)
    for entry in body["hours"]:
        records = by_hour[entry["hour"]]
        assert_counters(entry, records, late if any(r["outcome"] == "exceededCpu" for r in records) else 0.0)
    # The default range: the 24 whole hours up to the end of the current one.
    until = parse(body["until"])
    assert until.minute == until.second == 0 and until - parse(body["since"]) == timedelta(hours=24)
    assert until - HOUR <= datetime.now(UTC) <= until


def test_script_filter(admin, made) -> None:
    wait_for(admin, 13)
    body = usage(admin, script="other").json()
    assert body["script"] == "other" and body["scripts"] is None
    assert_counters(body["totals"], made["other"])
    assert sum(entry["invocations"] for entry in body["hours"]) == 4
    nothing = usage(admin, script="never-deployed").json()
    assert nothing["totals"] == {"invocations": 0, "errors": ZERO_ERRORS, "cpu_ms": 0, "wall_ms": 0, "subrequests": 0}
    assert nothing["hours"] == []


def test_times_inside_an_hour_cover_the_whole_hour(admin, made) -> None:
    wait_for(admin, 13)
    first = made["counter"][0]
    hour = hour_start(parse(first["started_at"]))
    in_hour = [r for r in made["counter"] + made["other"] if hour_start(parse(r["started_at"])) == hour]
    # since is rounded down, until up: 20-40 minutes past the hour is the whole hour.
    body = usage(admin, since=iso(hour + timedelta(minutes=20)).replace(".000Z", "Z"), until=(hour + timedelta(minutes=40)).isoformat()).json()
    assert body["since"] == iso(hour) and body["until"] == iso(hour + HOUR)
    assert [entry["hour"] for entry in body["hours"]] == [iso(hour)]
    assert_counters(body["totals"], in_hour, late_cpu_ms(admin) if any(r["outcome"] == "exceededCpu" for r in in_hour) else 0.0)
    # until is exclusive: a range ending at the hour's start does not hold it.
    before = usage(admin, since=iso(hour - 2 * HOUR), until=iso(hour)).json()
    assert before["until"] == iso(hour) and before["totals"]["invocations"] == 0 and before["scripts"] == []
    # A time without an offset is UTC; a date alone is its midnight.
    naive = usage(admin, since=(hour - HOUR).replace(tzinfo=None).isoformat(), until=(hour + HOUR).replace(tzinfo=None).isoformat()).json()
    assert naive["since"] == iso(hour - HOUR) and naive["totals"]["invocations"] >= len(in_hour)
    day = usage(admin, since="2026-01-01", until="2026-01-02T00:00:00+02:00").json()
    assert day["since"] == "2026-01-01T00:00:00.000Z" and day["until"] == "2026-01-01T22:00:00.000Z"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"since": "yesterday"}, "invalid_time"),
        ({"until": "2026-13-01T00:00:00Z"}, "invalid_time"),
        ({"since": ""}, "invalid_time"),
        ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "invalid_range"),
        ({"since": "2026-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "invalid_range"),
        ({"since": "2026-01-01T00:00:00Z", "until": "2026-02-01T00:00:01Z"}, "invalid_range"),  # over 31 days
        ({"since": "2000-01-01T00:00:00Z"}, "invalid_range"),  # until defaults to now
        ({"script": "Not_A_Name"}, "invalid_script_name"),
        ({"script": ""}, "invalid_script_name"),
        # Near the ends of what a datetime can hold: rounding to whole hours once overflowed (500).
        ({"until": "9999-12-31T23:59:59-14:00"}, "invalid_time"),
        ({"since": "9999-12-31T20:00:00", "until": "9999-12-31T23:59:59"}, "invalid_time"),
        ({"since": "0001-01-01T00:00:00+14:00", "until": "0001-01-01T05:00:00+14:00"}, "invalid_time"),
    ],
)
def test_bad_input(admin, params, code) -> None:
    response = usage(admin, **params)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]


def test_a_range_of_31_days_is_allowed(admin) -> None:
    body = usage(admin, since="2026-01-01T00:00:00Z", until="2026-02-01T00:00:00Z")
    assert body.status_code == 200 and body.json()["totals"]["invocations"] == 0


def test_unknown_namespace_is_not_found(admin) -> None:
    response = usage(admin, ns="no-such-namespace")
    assert response.status_code == 404 and response.json()["error"]["code"] == "namespace_not_found"


def test_namespace_tokens(server, admin, made) -> None:
    wait_for(admin, 13)
    made_tokens = {}
    for label, scope, read_only in [("usage-ro", f"namespace:{NS}", True), ("usage-stranger", "namespace:default", False)]:
        response = admin.post("/v1/tokens", json={"name": label, "scope": scope, "read_only": read_only})
        made_tokens[label] = response.json()["token"]
    with server.client(made_tokens["usage-ro"]) as reader:
        assert usage(reader).json()["totals"]["invocations"] == 13
    with server.client(made_tokens["usage-stranger"]) as stranger:
        hidden = usage(stranger)
        assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "namespace_not_found"


def test_seed_executions_count_under_default_and_the_seed_id(admin) -> None:
    marker = secrets.token_hex(8)  # a fresh id: the default namespace is shared by other tests
    fine = upload(admin, f"'{marker}'")
    failing = upload(admin, f"throw new Error('{marker}')")
    records = []
    for script_id in (fine, fine, failing):
        result = execute(admin, script_id)
        records.append(result)
    assert [r["outcome"] for r in records] == ["ok", "ok", "exception"]
    body = wait_for(admin, 2, ns="default", script=fine)
    assert body["namespace"] == "default" and body["script"] == fine
    assert body["totals"]["errors"] == ZERO_ERRORS
    assert body["totals"]["cpu_ms"] == pytest.approx(records[0]["cpu_ms"] + records[1]["cpu_ms"], abs=0.01)
    failed = wait_for(admin, 1, ns="default", script=failing)
    assert failed["totals"]["errors"] == {**ZERO_ERRORS, "exception": 1}
    listed = {entry["script"]: entry for entry in usage(admin, ns="default").json()["scripts"]}
    assert listed[fine]["invocations"] == 2 and listed[failing]["invocations"] == 1


LIGHT = ("--executors", "1", "--spare-isolates", "1")


def test_servers_sharing_a_database_count_exactly_across_restarts(make_server, tmp_path) -> None:
    """Two servers write into one database at once, then stop at once (flushing what they
    hold); a third reads the usage without waiting: every invocation counted once."""
    data = tmp_path / "shared"
    first = make_server(*LIGHT, data_dir=data)
    second = make_server(*LIGHT, data_dir=data)
    with first.admin() as admin:
        deploy(admin, "shared", WORKER)
    per_server = 15

    def hammer(server) -> list[int]:
        return [invoke(server, "default", "shared", f"/{i}").status_code for i in range(per_server)]

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(hammer, [first, second, first, second]))
    assert all(status == 200 for batch in statuses for status in batch)
    first.stop()
    second.stop()

    third = make_server(*LIGHT, data_dir=data)
    with third.admin() as admin:
        body = usage(admin, ns="default", script="shared").json()
        assert body["totals"]["invocations"] == 4 * per_server
        assert body["totals"]["errors"] == ZERO_ERRORS
        # Later invocations add to the same hour's counters.
        invoke(third, "default", "shared", "/throw")
        body = wait_for(admin, 4 * per_server + 1, ns="default", script="shared")
        assert body["totals"]["errors"] == {**ZERO_ERRORS, "exception": 1}
