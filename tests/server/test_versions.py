"""Versions (listed, read, uploaded without deploying) and deployments (rollbacks, traffic
splits by rollout key), through HTTP."""

from __future__ import annotations

import time
from collections import Counter

import httpx
import pytest

from tests.conftest import MODULE, deploy, invoke, multipart_upload

ROLLOUT = "x-isolane-rollout-key"


def code(label: str) -> str:
    return f'export default {{ fetch(request, env) {{ return new Response("{label}" + (env.TOKEN ? " " + env.TOKEN : "")); }} }};'


@pytest.fixture()
def ns(admin: httpx.Client, request: pytest.FixtureRequest) -> str:
    """A namespace of the test's own, so what it lists is what it made."""
    name = "v-" + request.node.name.replace("_", "-").lower()[5:40].strip("-")
    assert admin.put(f"/v1/namespaces/{name}").status_code in (200, 201)
    return name


def _error(response: httpx.Response) -> dict:
    return response.json()["error"]


def _deployments(admin: httpx.Client, ns: str, name: str) -> list[dict]:
    response = admin.get(f"/v1/namespaces/{ns}/scripts/{name}/deployments")
    assert response.status_code == 200, response.text
    return response.json()["items"]


def _deploy_versions(admin: httpx.Client, ns: str, name: str, *shares: tuple[str, float], force: bool = False) -> httpx.Response:
    return admin.post(
        f"/v1/namespaces/{ns}/scripts/{name}/deployments",
        params={"force": "true"} if force else None,
        json={"versions": [{"version_id": version, "percentage": percentage} for version, percentage in shares]},
    )


def _record(admin: httpx.Client, record_id: str) -> dict:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        response = admin.get(f"/v1/invocations/{record_id}")
        if response.status_code == 200:
            return response.json()
        time.sleep(0.05)
    raise AssertionError(f"record {record_id} never appeared")


def test_versions_are_listed_newest_first_with_their_metadata(admin: httpx.Client, ns: str) -> None:
    files = multipart_upload(
        {"main.js": ('import t from "./t.txt";\nexport default { fetch: (r, env) => new Response(t + env.WHO) };', MODULE), "t.txt": ("hi ", "text/plain")},
        {
            "main_module": "main.js",
            "bindings": [{"type": "plain_text", "name": "WHO", "text": "ada"}],
            "tags": ["alpha"],
            "limits": {"cpu_ms": 20},
            "compatibility_date": "2026-11-01",
        },
    )
    first = admin.put(f"/v1/namespaces/{ns}/scripts/app", files=files).json()["version_id"]
    second = deploy(admin, "app", code("raw"), ns=ns)["version_id"]

    listed = admin.get(f"/v1/namespaces/{ns}/scripts/app/versions").json()
    assert [item["id"] for item in listed["items"]] == [second, first] and listed["cursor"] is None
    old = listed["items"][1]
    assert old["handlers"] == ["fetch"] and old["main_module"] == "main.js" and old["format"] == "module"
    assert {m["name"] for m in old["modules"]} == {"main.js", "t.txt"}
    assert old["bindings"] == [{"name": "WHO", "type": "plain_text"}]  # names and types only, never values
    assert (old["tags"], old["limits"], old["compatibility_date"]) == (["alpha"], {"cpu_ms": 20}, "2026-11-01")
    assert old["created_at"].endswith("Z") and old["percentage"] is None and listed["items"][0]["percentage"] == 100

    page = admin.get(f"/v1/namespaces/{ns}/scripts/app/versions", params={"limit": 1}).json()
    assert [item["id"] for item in page["items"]] == [second] and page["cursor"]
    rest = admin.get(f"/v1/namespaces/{ns}/scripts/app/versions", params={"limit": 1, "cursor": page["cursor"]}).json()
    assert [item["id"] for item in rest["items"]] == [first] and rest["cursor"] is None

    assert admin.get(f"/v1/namespaces/{ns}/scripts/app/versions/{first}").json() == old
    raw = admin.get(f"/v1/namespaces/{ns}/scripts/app/versions/{second}/content")
    assert raw.text == code("raw") and raw.headers["content-type"].startswith(MODULE)
    multipart = admin.get(f"/v1/namespaces/{ns}/scripts/app/versions/{first}/content")
    assert multipart.headers["content-type"].startswith("multipart/form-data")
    assert b'import t from "./t.txt"' in multipart.content and b'name="t.txt"' in multipart.content

    missing = admin.get(f"/v1/namespaces/{ns}/scripts/app/versions/{'0' * 32}")
    assert missing.status_code == 404 and _error(missing)["code"] == "version_not_found"
    other = deploy(admin, "other", code("other"), ns=ns)["version_id"]  # exists, but not this script's
    assert _error(admin.get(f"/v1/namespaces/{ns}/scripts/app/versions/{other}"))["code"] == "version_not_found"
    assert _error(admin.get(f"/v1/namespaces/{ns}/scripts/app/versions/{other}/content"))["code"] == "version_not_found"
    assert _error(admin.get(f"/v1/namespaces/{ns}/scripts/nope/versions"))["code"] == "script_not_found"
    assert _error(admin.get(f"/v1/namespaces/{ns}/scripts/app/versions", params={"cursor": "junk"}))["code"] == "invalid_cursor"


def test_uploading_a_version_does_not_deploy_it(server, admin: httpx.Client, ns: str) -> None:
    live = deploy(admin, "app", code("live"), ns=ns)["version_id"]
    response = admin.post(f"/v1/namespaces/{ns}/scripts/app/versions", content=code("staged"), headers={"content-type": MODULE})
    assert response.status_code == 201, response.text
    staged = response.json()
    assert staged["id"] != live and staged["handlers"] == ["fetch"] and staged["percentage"] is None
    assert invoke(server, ns, "app").text == "live"
    assert admin.get(f"/v1/namespaces/{ns}/scripts/app").json()["version_id"] == live
    assert len(_deployments(admin, ns, "app")) == 1
    again = admin.post(f"/v1/namespaces/{ns}/scripts/app/versions", content=code("staged"), headers={"content-type": MODULE})
    assert again.status_code == 200 and again.json()["id"] == staged["id"]
    # The multipart format works too; a bad upload is refused as with PUT.
    files = multipart_upload({"main.js": (code("multi"), MODULE)}, {"main_module": "main.js"})
    assert admin.post(f"/v1/namespaces/{ns}/scripts/app/versions", files=files).status_code == 201
    bad = admin.post(f"/v1/namespaces/{ns}/scripts/app/versions", content=b"export default {", headers={"content-type": MODULE})
    assert bad.status_code == 400 and _error(bad)["code"] == "syntax_error"
    # A version belongs to a script that exists: uploading one does not create the script.
    missing = admin.post(f"/v1/namespaces/{ns}/scripts/newcomer/versions", content=code("x"), headers={"content-type": MODULE})
    assert missing.status_code == 404 and _error(missing)["code"] == "script_not_found"
    assert admin.get(f"/v1/namespaces/{ns}/scripts/newcomer").status_code == 404

    assert _deploy_versions(admin, ns, "app", (staged["id"], 100)).status_code == 201
    assert invoke(server, ns, "app").text == "staged"


def test_rollback_is_deploying_an_older_version(server, admin: httpx.Client, ns: str) -> None:
    v1 = deploy(admin, "app", code("v1"), ns=ns)["version_id"]
    v2 = deploy(admin, "app", code("v2"), ns=ns)["version_id"]
    assert invoke(server, ns, "app").text == "v2"
    response = _deploy_versions(admin, ns, "app", (v1, 100))
    assert response.status_code == 201, response.text
    rollback = response.json()
    assert rollback["versions"] == [{"version_id": v1, "percentage": 100}] and rollback["current"] is True
    assert invoke(server, ns, "app").text == "v1"
    assert admin.get(f"/v1/namespaces/{ns}/scripts/app").json()["version_id"] == v1
    history = _deployments(admin, ns, "app")
    assert [d["versions"][0]["version_id"] for d in history] == [v1, v2, v1]  # newest first
    assert [d["current"] for d in history] == [True, False, False] and history[0]["id"] == rollback["id"]
    # Deploying the same code again with PUT makes it current at 100% once more.
    assert deploy(admin, "app", code("v2"), ns=ns)["version_id"] == v2
    assert invoke(server, ns, "app").text == "v2"
    assert len(_deployments(admin, ns, "app")) == 4
    assert deploy(admin, "app", code("v2"), ns=ns)["version_id"] == v2  # already deployed alone: no new record
    assert len(_deployments(admin, ns, "app")) == 4


def test_traffic_split_by_rollout_key(server, admin: httpx.Client, ns: str) -> None:
    v1 = deploy(admin, "split", code("v1"), ns=ns)["version_id"]
    v2 = deploy(admin, "split", code("v2"), ns=ns)["version_id"]
    response = _deploy_versions(admin, ns, "split", (v1, 30), (v2, 70))
    assert response.status_code == 201, response.text
    # The version with the largest share is the script's version.
    assert admin.get(f"/v1/namespaces/{ns}/scripts/split").json()["version_id"] == v2
    versions = {item["id"]: item["percentage"] for item in admin.get(f"/v1/namespaces/{ns}/scripts/split/versions").json()["items"]}
    assert versions == {v1: 30, v2: 70}

    url = f"/v1/namespaces/{ns}/scripts/split/invoke"
    with httpx.Client(base_url=server.url, timeout=30) as client:
        landed = {f"key-{i}": client.get(url, headers={ROLLOUT: f"key-{i}"}).text for i in range(400)}
        counts = Counter(landed.values())
        assert set(counts) == {"v1", "v2"}
        assert abs(counts["v1"] / 400 - 0.30) < 0.08, counts  # 30% within a tolerance (3.5 standard deviations)
        for key in list(landed)[:60]:  # the same key always lands on the same version
            assert client.get(url, headers={ROLLOUT: key}).text == landed[key]
        # Without a key each request is drawn at random: both versions serve.
        assert set(Counter(client.get(url).text for _ in range(60))) == {"v1", "v2"}
        # The record of each invocation names the version that ran.
        for key in ("key-0", "key-1", "key-2", "key-3"):
            response = client.get(url, headers={ROLLOUT: key})
            record = _record(admin, response.headers["x-isolane-invocation"])
            assert record["version"] == (v1 if response.text == "v1" else v2)


def test_invalid_deployments_change_nothing(server, admin: httpx.Client, ns: str) -> None:
    v1 = deploy(admin, "app", code("v1"), ns=ns)["version_id"]
    v2 = deploy(admin, "app", code("v2"), ns=ns)["version_id"]
    v3 = admin.post(f"/v1/namespaces/{ns}/scripts/app/versions", content=code("v3"), headers={"content-type": MODULE}).json()["id"]
    foreign = deploy(admin, "other", code("other"), ns=ns)["version_id"]
    before = _deployments(admin, ns, "app")
    path = f"/v1/namespaces/{ns}/scripts/app/deployments"
    cases = [
        ({"versions": [{"version_id": v1, "percentage": 50}, {"version_id": v2, "percentage": 40}]}, 400, "invalid_percentage_total"),
        ({"versions": [{"version_id": v1, "percentage": 60}, {"version_id": v2, "percentage": 60}]}, 400, "invalid_percentage_total"),
        ({"versions": [{"version_id": v1, "percentage": 99.5}]}, 400, "invalid_percentage_total"),
        ({"versions": [{"version_id": v, "percentage": p} for v, p in ((v1, 40), (v2, 30), (v3, 30))]}, 400, "too_many_versions"),
        ({"versions": [{"version_id": v1, "percentage": 50}, {"version_id": v1, "percentage": 50}]}, 400, "duplicate_version"),
        ({"versions": [{"version_id": v1, "percentage": "100"}]}, 400, "invalid_percentage"),
        ({"versions": [{"version_id": v1, "percentage": True}]}, 400, "invalid_percentage"),
        ({"versions": [{"version_id": v1, "percentage": 0}, {"version_id": v2, "percentage": 100}]}, 400, "invalid_percentage"),
        ({"versions": [{"version_id": v1, "percentage": 150}, {"version_id": v2, "percentage": -50}]}, 400, "invalid_percentage"),
        ({"versions": [{"percentage": 100}]}, 400, "invalid_deployment"),
        ({"versions": []}, 400, "invalid_deployment"),
        ({"version_id": v1}, 400, "invalid_deployment"),
        ([{"version_id": v1, "percentage": 100}], 400, "invalid_json"),
        ({"versions": [{"version_id": "0" * 32, "percentage": 100}]}, 404, "version_not_found"),
        ({"versions": [{"version_id": v1, "percentage": 50}, {"version_id": foreign, "percentage": 50}]}, 404, "version_not_found"),
    ]
    for body, status, error_code in cases:
        response = admin.post(path, json=body)
        assert (response.status_code, _error(response)["code"]) == (status, error_code), (body, response.text)
    response = admin.post(path, content=b"{not json", headers={"content-type": "application/json"})
    assert (response.status_code, _error(response)["code"]) == (400, "invalid_json")
    response = admin.post(f"/v1/namespaces/{ns}/scripts/nope/deployments", json={"versions": [{"version_id": v1, "percentage": 100}]})
    assert (response.status_code, _error(response)["code"]) == (404, "script_not_found")
    assert _deployments(admin, ns, "app") == before
    assert invoke(server, ns, "app").text == "v2"
    # Fractions are numbers too.
    assert _deploy_versions(admin, ns, "app", (v1, 33.3), (v3, 66.7)).status_code == 201


def test_versions_keep_their_secrets(server, admin: httpx.Client, ns: str) -> None:
    def set_secret(value: str) -> str:
        response = admin.put(f"/v1/namespaces/{ns}/scripts/app/secrets", json={"name": "TOKEN", "text": value})
        assert response.status_code in (200, 201), response.text
        return response.json()["version_id"]

    v1 = deploy(admin, "app", code("v1"), ns=ns)["version_id"]
    v2 = deploy(admin, "app", code("v2"), ns=ns)["version_id"]
    assert _deploy_versions(admin, ns, "app", (v1, 50), (v2, 50)).status_code == 201
    # A change of secrets deploys the script's version (here the first listed of a tie) at 100%.
    with_old = set_secret("old-value")
    current = _deployments(admin, ns, "app")[0]
    assert current["versions"] == [{"version_id": with_old, "percentage": 100}] and current["current"]
    assert invoke(server, ns, "app").text == "v1 old-value"
    with_new = set_secret("new-value")
    assert invoke(server, ns, "app").text == "v1 new-value"

    # Going back to a version made with other secrets would bring them back: only when forced.
    for target in (v2, with_old):
        refused = _deploy_versions(admin, ns, "app", (target, 100))
        assert refused.status_code == 409 and _error(refused)["code"] == "secrets_changed"
        assert _error(refused)["secrets"] == ["TOKEN"] and "new-value" not in refused.text
    assert invoke(server, ns, "app").text == "v1 new-value"
    assert _deploy_versions(admin, ns, "app", (with_old, 100), force=True).status_code == 201
    assert invoke(server, ns, "app").text == "v1 old-value"  # the version as it was made
    assert _deploy_versions(admin, ns, "app", (v2, 100), force=True).status_code == 201
    assert invoke(server, ns, "app").text == "v2"
    # A version with the current secrets needs no force; the script's secrets are the latest.
    assert _deploy_versions(admin, ns, "app", (with_new, 100)).status_code == 201
    assert invoke(server, ns, "app").text == "v1 new-value"
    assert admin.get(f"/v1/namespaces/{ns}/scripts/app/secrets").json()["items"] == [{"name": "TOKEN", "type": "secret_text"}]
    # Versions show their secrets' names and types, never values or ciphertexts.
    listed = admin.get(f"/v1/namespaces/{ns}/scripts/app/versions").text
    assert "new-value" not in listed and "old-value" not in listed and "sealed" not in listed


def test_deleting_a_script_deletes_its_versions_and_deployments(server, admin: httpx.Client, ns: str) -> None:
    v1 = deploy(admin, "app", code("v1"), ns=ns)["version_id"]
    deploy(admin, "app", code("v2"), ns=ns)
    assert admin.delete(f"/v1/namespaces/{ns}/scripts/app").status_code == 200
    assert _error(admin.get(f"/v1/namespaces/{ns}/scripts/app/versions"))["code"] == "script_not_found"
    assert _error(admin.get(f"/v1/namespaces/{ns}/scripts/app/deployments"))["code"] == "script_not_found"
    deploy(admin, "app", code("again"), ns=ns)
    assert len(_deployments(admin, ns, "app")) == 1
    response = _deploy_versions(admin, ns, "app", (v1, 100))  # the old script's version is gone with it
    assert response.status_code == 404 and _error(response)["code"] == "version_not_found"


def test_a_body_its_model_refuses_changes_nothing(server, admin: httpx.Client, ns: str) -> None:
    """DeploymentRequest validates the body: fields it does not know (which the platform
    alone would have ignored) and strings for numbers are 400s that name the field."""
    v1 = deploy(admin, "app", code("v1"), ns=ns)["version_id"]
    v2 = deploy(admin, "app", code("v2"), ns=ns)["version_id"]
    before = _deployments(admin, ns, "app")
    path = f"/v1/namespaces/{ns}/scripts/app/deployments"
    for body, error_code, where in (
        ({"versions": [{"version_id": v1, "percentage": 100}], "strategy": "percentage"}, "invalid_deployment", "strategy:"),
        ({"versions": [{"version_id": v1, "percentage": 100, "weight": 1}]}, "invalid_deployment", "versions[0].weight:"),
        ({"versions": [{"version_id": v1, "percentage": 50}, {"version_id": v2, "percentage": "50"}]}, "invalid_percentage", "versions[1].percentage:"),
    ):
        response = admin.post(path, json=body)
        assert response.status_code == 400 and response.headers["content-type"].startswith("application/json"), response.text
        assert _error(response)["code"] == error_code and _error(response)["message"].startswith(where), response.text
    assert _deployments(admin, ns, "app") == before
    assert invoke(server, ns, "app").text == "v2"
