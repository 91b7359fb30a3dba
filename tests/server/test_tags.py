"""Script tags: set by upload metadata or PUT .../tags, filtering the list, deleting in bulk."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import MODULE, deploy, invoke, multipart_upload

HELLO = 'export default { fetch() { return new Response("tagged"); } };'


@pytest.fixture()
def ns(admin: httpx.Client, request: pytest.FixtureRequest) -> str:
    name = "t-" + request.node.name.replace("_", "-").lower()[5:40].strip("-")
    assert admin.put(f"/v1/namespaces/{name}").status_code in (200, 201)
    return name


def _error(response: httpx.Response) -> dict:
    return response.json()["error"]


def _upload_tagged(admin: httpx.Client, ns: str, name: str, tags: list[str]) -> None:
    files = multipart_upload({"main.js": (HELLO, MODULE)}, {"main_module": "main.js", "tags": tags})
    response = admin.put(f"/v1/namespaces/{ns}/scripts/{name}", files=files)
    assert response.status_code in (200, 201), response.text


def _names(admin: httpx.Client, ns: str, tags: str) -> list[str]:
    response = admin.get(f"/v1/namespaces/{ns}/scripts", params={"tags": tags})
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


def test_tags_come_from_uploads_and_put(admin: httpx.Client, ns: str) -> None:
    _upload_tagged(admin, ns, "app", ["customer-1", "beta", "beta"])
    assert admin.get(f"/v1/namespaces/{ns}/scripts/app").json()["tags"] == ["beta", "customer-1"]
    assert admin.get(f"/v1/namespaces/{ns}/scripts/app/tags").json() == {"items": ["beta", "customer-1"], "cursor": None}

    response = admin.put(f"/v1/namespaces/{ns}/scripts/app/tags", json=["prod", "customer-1"])
    assert response.status_code == 200 and response.json() == {"items": ["customer-1", "prod"], "cursor": None}
    assert admin.get(f"/v1/namespaces/{ns}/scripts/app").json()["tags"] == ["customer-1", "prod"]
    # An upload that says nothing about tags (a raw body) keeps them; one that does replaces them.
    deploy(admin, "app", HELLO.replace("tagged", "raw"), ns=ns)
    assert admin.get(f"/v1/namespaces/{ns}/scripts/app/tags").json()["items"] == ["customer-1", "prod"]
    _upload_tagged(admin, ns, "app", [])
    assert admin.get(f"/v1/namespaces/{ns}/scripts/app/tags").json()["items"] == []
    # A version uploaded without deploying does not change the script's tags.
    files = multipart_upload({"main.js": (HELLO, MODULE)}, {"main_module": "main.js", "tags": ["staged"]})
    assert admin.post(f"/v1/namespaces/{ns}/scripts/app/versions", files=files).status_code == 201
    assert admin.get(f"/v1/namespaces/{ns}/scripts/app/tags").json()["items"] == []
    assert admin.put(f"/v1/namespaces/{ns}/scripts/app/tags", json=[]).json()["items"] == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"tags": ["a"]}, "invalid_tags"),
        ([1, 2], "invalid_tags"),
        ([f"t{i}" for i in range(9)], "too_many_tags"),
        (["has,comma"], "invalid_tag"),
        ([""], "invalid_tag"),
        (["x" * 65], "invalid_tag"),
    ],
)
def test_bad_tag_lists(admin: httpx.Client, body: object, code: str) -> None:
    deploy(admin, "tag-target", HELLO)
    response = admin.put("/v1/namespaces/default/scripts/tag-target/tags", json=body)
    assert response.status_code == 400 and _error(response)["code"] == code, response.text


def test_tag_errors_elsewhere(admin: httpx.Client, ns: str) -> None:
    response = admin.put(f"/v1/namespaces/{ns}/scripts/app/tags", content=b"[oops", headers={"content-type": "application/json"})
    assert response.status_code == 400 and _error(response)["code"] == "invalid_json"
    assert _error(admin.put(f"/v1/namespaces/{ns}/scripts/nope/tags", json=["a"]))["code"] == "script_not_found"
    assert _error(admin.get(f"/v1/namespaces/{ns}/scripts/nope/tags"))["code"] == "script_not_found"
    response = admin.get(f"/v1/namespaces/{ns}/scripts", params={"tags": "a,,b"})
    assert response.status_code == 400 and _error(response)["code"] == "invalid_tag_filter"


def test_list_filters_by_all_given_tags(admin: httpx.Client, ns: str) -> None:
    _upload_tagged(admin, ns, "one", ["customer-1", "prod"])
    _upload_tagged(admin, ns, "two", ["customer-1", "staging"])
    _upload_tagged(admin, ns, "three", ["customer-2", "prod"])
    deploy(admin, "untagged", HELLO, ns=ns)
    assert _names(admin, ns, "customer-1") == ["one", "two"]
    assert _names(admin, ns, "customer-1,prod") == ["one"]  # every tag must match (AND)
    assert _names(admin, ns, "prod:yes,customer-1:no") == ["three"]  # Cloudflare's tag:yes / tag:no
    assert _names(admin, ns, "prod:no") == ["two", "untagged"]
    assert _names(admin, ns, "customer-3") == []
    page = admin.get(f"/v1/namespaces/{ns}/scripts", params={"tags": "customer-1", "limit": 1}).json()
    assert [item["name"] for item in page["items"]] == ["one"] and page["cursor"] == "one"
    rest = admin.get(f"/v1/namespaces/{ns}/scripts", params={"tags": "customer-1", "limit": 1, "cursor": "one"}).json()
    assert [item["name"] for item in rest["items"]] == ["two"] and rest["cursor"] is None
    assert [item["tags"] for item in admin.get(f"/v1/namespaces/{ns}/scripts").json()["items"]] == [
        ["customer-1", "prod"],
        ["customer-2", "prod"],
        ["customer-1", "staging"],
        [],
    ]


def test_bulk_delete_by_tags(server, admin: httpx.Client, ns: str) -> None:
    _upload_tagged(admin, ns, "one", ["customer-1", "prod"])
    _upload_tagged(admin, ns, "two", ["customer-1", "staging"])
    _upload_tagged(admin, ns, "three", ["customer-2", "prod"])
    deploy(admin, "untagged", HELLO, ns=ns)
    assert invoke(server, ns, "one").text == "tagged"

    # Never everything by accident: a filter that requires a tag is mandatory.
    for params in ({}, {"tags": ""}, {"tags": "customer-1:no"}):
        response = admin.delete(f"/v1/namespaces/{ns}/scripts", params=params)
        assert response.status_code == 400 and _error(response)["code"] == "tags_required", params
    assert len(admin.get(f"/v1/namespaces/{ns}/scripts").json()["items"]) == 4

    response = admin.delete(f"/v1/namespaces/{ns}/scripts", params={"tags": "customer-1"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "items": [{"namespace": ns, "name": "one", "deleted": True}, {"namespace": ns, "name": "two", "deleted": True}],
        "cursor": None,
    }
    assert [item["name"] for item in admin.get(f"/v1/namespaces/{ns}/scripts").json()["items"]] == ["three", "untagged"]
    assert invoke(server, ns, "one").status_code == 404  # stops serving at once
    assert invoke(server, ns, "three").text == "tagged"
    assert admin.delete(f"/v1/namespaces/{ns}/scripts", params={"tags": "customer-1"}).json()["items"] == []
    # Tags belong to the script: deleted with it, not inherited by a new script of the same name.
    deploy(admin, "one", HELLO, ns=ns)
    assert admin.get(f"/v1/namespaces/{ns}/scripts/one/tags").json()["items"] == []
    # Other namespaces are untouched.
    _upload_tagged(admin, "default", "elsewhere", ["customer-2"])
    assert [item["name"] for item in admin.delete(f"/v1/namespaces/{ns}/scripts", params={"tags": "customer-2"}).json()["items"]] == ["three"]
    assert admin.get("/v1/namespaces/default/scripts/elsewhere").status_code == 200


def test_a_body_its_model_refuses_changes_nothing(admin: httpx.Client, ns: str) -> None:
    """TagList validates the body: the error names the item it refused; the tags stay."""
    _upload_tagged(admin, ns, "kept", ["prod"])
    for body, code, where in (
        (["ok", 5], "invalid_tags", "[1]:"),
        (["ok", " leading-space"], "invalid_tag", "[1]:"),
        ([f"t{i}" for i in range(9)], "too_many_tags", "the body:"),
        ("prod", "invalid_tags", "the body:"),
    ):
        response = admin.put(f"/v1/namespaces/{ns}/scripts/kept/tags", json=body)
        assert response.status_code == 400, response.text
        assert _error(response)["code"] == code and _error(response)["message"].startswith(where), response.text
    assert admin.get(f"/v1/namespaces/{ns}/scripts/kept/tags").json()["items"] == ["prod"]
