"""A script's invocation records: listing with filters and cursor paging, bad input, and
retention by count (a server with a small --records-max-per-script and a short sweep)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx

from tests.conftest import deploy, invoke

NS = "records-a"

WORKER = """
export default {
  async fetch(request) {
    const path = new URL(request.url).pathname;
    console.log("path", path);
    if (path === "/throw") throw new TypeError("on purpose");
    return new Response("ok " + path);
  },
};
"""


def listing(client: httpx.Client, name: str, ns: str = NS, **params) -> httpx.Response:
    return client.get(f"/v1/namespaces/{ns}/scripts/{name}/invocations", params=params)


def wait_for_records(client: httpx.Client, name: str, count: int, ns: str = NS) -> list[dict]:
    deadline = time.monotonic() + 10
    while True:
        items = listing(client, name, ns, limit=1000).json()["items"]
        if len(items) >= count:
            return items
        assert time.monotonic() < deadline, items
        time.sleep(0.05)


def test_listing_filters_and_pages(server, admin):
    admin.put(f"/v1/namespaces/{NS}")
    deploy(admin, "lister", WORKER, ns=NS)
    before = datetime.now(UTC) - timedelta(seconds=1)
    ids = []
    for i in range(12):
        path = "/throw" if i % 3 == 0 else f"/ok{i}"
        response = invoke(server, NS, "lister", path)
        assert response.status_code == (500 if path == "/throw" else 200), response.text
        ids.append(response.headers["x-isolane-invocation"])
    items = wait_for_records(admin, "lister", 12)
    assert [item["id"] for item in items] == sorted(ids, reverse=True)  # newest first

    # Each item is the record as GET /v1/invocations/{id} shows it.
    assert items[0] == admin.get(f"/v1/invocations/{items[0]['id']}").json()
    failed = [item for item in items if item["outcome"] == "exception"]
    assert len(failed) == 4
    assert set(failed[0]["error"]) >= {"name", "message", "stack"}
    assert failed[0]["error"]["name"] == "TypeError" and "on purpose" in failed[0]["error"]["message"]
    assert set(failed[0]["logs"][0]) == {"level", "message", "time"}

    # Cursor paging: 5 + 5 + 2, then no cursor.
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 5} | ({"cursor": cursor} if cursor else {})
        body = listing(admin, "lister", **params).json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["cursor"]
        if cursor is None:
            break
    assert pages == 3 and seen == [item["id"] for item in items]

    # Filters.
    only_errors = listing(admin, "lister", outcome="exception").json()
    assert [item["id"] for item in only_errors["items"]] == [item["id"] for item in failed]
    assert only_errors["cursor"] is None
    paged = listing(admin, "lister", outcome="ok", limit=3).json()
    assert len(paged["items"]) == 3 and paged["cursor"] == paged["items"][-1]["id"]
    assert all(item["outcome"] == "ok" for item in paged["items"])
    assert len(listing(admin, "lister", trigger="fetch").json()["items"]) == 12
    assert listing(admin, "lister", trigger="scheduled").json()["items"] == []
    since = before.isoformat()
    until = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert len(listing(admin, "lister", since=since, until=until).json()["items"]) == 12
    assert listing(admin, "lister", until=since).json()["items"] == []
    assert listing(admin, "lister", since=until).json()["items"] == []
    middle = items[5]["started_at"]  # records started at or after it
    newer = listing(admin, "lister", since=middle).json()["items"]
    assert {item["id"] for item in newer} >= {item["id"] for item in items[:6]}
    assert all(item["started_at"] >= middle for item in newer)
    # Another script's records do not show; an unknown script has none.
    assert listing(admin, "nothing-here").json() == {"items": [], "cursor": None}


def test_listing_bad_input(server, admin):
    admin.put(f"/v1/namespaces/{NS}")
    cases = [
        ({"limit": 0}, "invalid_limit"),
        ({"limit": 1001}, "invalid_limit"),
        ({"limit": "ten"}, "invalid_limit"),
        ({"outcome": "fine"}, "invalid_outcome"),
        ({"trigger": "Not A Trigger"}, "invalid_trigger"),
        ({"since": "yesterday"}, "invalid_time"),
        ({"until": "2026-13-01"}, "invalid_time"),
        ({"since": "2026-11-28T00:00:00Z", "until": "2026-11-27T00:00:00Z"}, "invalid_range"),
        ({"cursor": "not-a-cursor"}, "invalid_cursor"),
    ]
    for params, code in cases:
        response = listing(admin, "lister", **params)
        assert response.status_code == 400, (params, response.text)
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["error"]["code"] == code, (params, response.text)
    response = listing(admin, "Bad_Name")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_script_name"
    assert listing(admin, "lister", ns="no-such-namespace").status_code == 404
    assert listing(admin, "lister", limit=1000).status_code == 200


def test_retention_by_count(make_server):
    server = make_server("--records-max-per-script", "5", "--records-sweep-seconds", "0.3")
    admin = server.admin()
    deploy(admin, "kept", WORKER)
    deploy(admin, "other", WORKER)
    ids = [invoke(server, "default", "kept", f"/{i}").headers["x-isolane-invocation"] for i in range(12)]
    invoke(server, "default", "other", "/x")
    deadline = time.monotonic() + 15
    while True:
        items = listing(admin, "kept", ns="default", limit=1000).json()["items"]
        if [item["id"] for item in items] == sorted(ids, reverse=True)[:5]:
            break
        assert time.monotonic() < deadline, (len(items), items[:1])
        time.sleep(0.1)
    # The newest five are kept; the others are gone; other scripts keep theirs.
    assert admin.get(f"/v1/invocations/{min(ids)}").status_code == 404
    assert len(listing(admin, "other", ns="default").json()["items"]) == 1


def test_a_record_is_readable_as_soon_as_the_response_has_left(server, admin):
    """Records are stored in batches some 50 ms later; until then the server that ran the
    invocation answers from what it holds, the same object as once stored."""
    admin.put(f"/v1/namespaces/{NS}")
    deploy(admin, "prompt", WORKER, ns=NS)
    ids = []
    for i in range(20):
        response = invoke(server, NS, "prompt", f"/now{i}")
        record = admin.get(f"/v1/invocations/{response.headers['x-isolane-invocation']}")
        assert record.status_code == 200, record.text
        assert record.json()["logs"][0]["message"] == f"path /now{i}"
        ids.append(record.json())
    time.sleep(0.3)
    for before in ids:
        assert admin.get(f"/v1/invocations/{before['id']}").json() == before
