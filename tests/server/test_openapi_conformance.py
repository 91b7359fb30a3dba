"""The OpenAPI document against a live server: schemathesis sends generated requests (valid
and invalid) to every documented management operation with an admin token, and every
answer must be no 5xx, of a documented status and content type, and match its schema.

The public invoke operations are left out: they pass the tenant script's own responses
through, which no schema of ours describes.

A "world" of resources (a namespace, a script with a version, a secret, a schedule, a KV
namespace with a key, a token) is made first, and most generated cases have their path
parameters aimed at it so that they reach the success paths, not only 404s. After a case
that deleted something or changed the namespace's settings, the world is put back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from isolane.testing import Server
from tests.conftest import ADMIN_TOKEN, TEST_SERVER_ARGS

# Script sources travel as text, like text/plain.
for source_type in ("application/javascript+module", "application/typescript", "application/javascript"):
    schemathesis.serializer.alias(source_type, "text/plain")

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
NAMESPACE = "conformance"
SCRIPT = "hello"
SOURCE = b"""export default {
  async fetch(request, env) { return new Response("hi " + (env.API_KEY ? "keyed" : "")) },
  async scheduled(event) { console.log("tick", event.cron) },
};
"""


@dataclass
class World:
    """Resources that generated cases are aimed at, re-made when a case removes them."""

    client: httpx.Client
    values: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # cases seen per operation

    def _ok(self, response: httpx.Response) -> dict[str, Any]:
        assert response.status_code < 300, f"{response.request.method} {response.request.url}: {response.text}"
        return response.json()

    def restore(self) -> None:
        c = self.client
        # Settings back to none (a generated body may have set a 0 quota or a dispatcher).
        self._ok(c.put(f"/v1/namespaces/{NAMESPACE}", json={"limits": None, "quotas": None, "dispatcher": None, "outbound": None}))
        scripts = f"/v1/namespaces/{NAMESPACE}/scripts/{SCRIPT}"
        self._ok(c.put(scripts, content=SOURCE, headers={"content-type": "application/javascript+module"}))
        self._ok(c.put(f"{scripts}/tags", json=["conformance"]))
        self._ok(c.put(f"{scripts}/schedules", json={"crons": ["*/5 * * * *"]}))
        if not any(item["name"] == "API_KEY" for item in self._ok(c.get(f"{scripts}/secrets"))["items"]):
            self._ok(c.put(f"{scripts}/secrets", json={"name": "API_KEY", "text": "s3cret"}))
        self.values["version_id"] = self._ok(c.get(scripts))["version_id"]
        self.values.update(ns=NAMESPACE, name=SCRIPT, secret="API_KEY")
        kv_id = self.values.get("namespace_id")
        if kv_id is None or c.get(f"/v1/kv/namespaces/{kv_id}").status_code == 404:
            listed = self._ok(c.get("/v1/kv/namespaces", params={"namespace": NAMESPACE}))["items"]
            found = [item for item in listed if item["title"] == "conformance"]
            made = found[0] if found else self._ok(c.post("/v1/kv/namespaces", json={"title": "conformance", "namespace": NAMESPACE}))
            self.values["namespace_id"] = made["id"]
        self._ok(c.put(f"/v1/kv/namespaces/{self.values['namespace_id']}/values/greeting", content=b"hello"))
        self.values["key"] = "greeting"
        token_id = self.values.get("token_id")
        if token_id is None or not any(item["id"] == token_id for item in self._ok(c.get("/v1/tokens"))["items"]):
            self.values["token_id"] = self._ok(c.post("/v1/tokens", json={"name": "conformance", "scope": f"namespace:{NAMESPACE}"}))["id"]
        seeded = c.post("/upload", content=b"6 * 7", headers={"content-type": "text/plain"})
        self.values["seed_id"] = self._ok(seeded)["id"]
        invoked = c.get(f"/v1/namespaces/{NAMESPACE}/scripts/{SCRIPT}/invoke")
        self.values["invocation_id"] = invoked.headers["x-isolane-invocation"]

    def aim(self, case: schemathesis.Case) -> None:
        """Point most cases at the world: their path parameters, and for the operations
        whose body must name an existing thing (a deployment's version, a seed id), their
        body. Every fourth case of an operation stays as generated (mostly 404s and 400s);
        the order of cases is the same in every derandomized run."""
        seen = self.counts.get(case.operation.label, 0)
        self.counts[case.operation.label] = seen + 1
        if seen % 4 == 3:
            return
        for name in case.path_parameters or {}:
            if name in self.values:
                case.path_parameters[name] = self.values[name]
        if seen % 2 == 1:
            return  # half of the aimed cases keep their generated body
        if case.path.endswith("/deployments") and case.method == "POST":
            case.body = {"versions": [{"version_id": self.values["version_id"], "percentage": 100}]}
        elif case.path == "/execute":
            case.body, case.media_type = self.values["seed_id"], "text/plain"

def changes_the_world(case: schemathesis.Case, response: schemathesis.Response) -> bool:
    if response.status_code >= 300:
        return False
    return case.method == "DELETE" or (case.method == "PUT" and case.path == "/v1/namespaces/{ns}")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own: the run changes namespaces' settings and quotas at random."""
    instance = Server(tmp_path_factory.mktemp("conformance") / "data", *TEST_SERVER_ARGS, admin_token=ADMIN_TOKEN).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def world(live: Server) -> Iterator[World]:
    with live.admin() as client:
        made = World(client)
        made.restore()
        yield made


@pytest.fixture(scope="module")
def api_schema(live: Server) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict(
        {
            "seed": 20261127,
            "generation": {"mode": "all", "deterministic": True, "max-examples": 8},
            "phases": {"stateful": {"enabled": False}},
        }
    )
    return schemathesis.openapi.from_url(f"{live.url}/openapi.json", config=config)


# The live tail streams until the client leaves: its bad-input answers are tested in
# tests/observability/test_tail.py.
schema = schemathesis.pytest.from_fixture("api_schema").exclude(path_regex=r"/invoke|/tail$")


# About 25 s on an idle machine; the margin is for a loaded one (all operations are one test).
@pytest.mark.timeout(300)
@schema.parametrize()
@settings(
    max_examples=8,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_conforms(case: schemathesis.Case, live: Server, world: World) -> None:
    world.aim(case)
    response = case.call_and_validate(base_url=live.url, headers=AUTH, checks=CHECKS, timeout=30)
    if changes_the_world(case, response):
        world.restore()


def test_the_document_is_valid_openapi_3(live: Server) -> None:
    loaded = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    loaded.validate()  # raises on a document that is not valid OpenAPI
    assert loaded.raw_schema["openapi"].startswith("3.")


def test_every_operation_declares_access_and_errors(live: Server) -> None:
    document = httpx.get(f"{live.url}/openapi.json").json()
    error_ref = "#/components/schemas/ErrorBody"
    assert "HTTPValidationError" not in document["components"]["schemas"], "FastAPI's 422 shape is never sent"
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            access = operation.get("x-isolane-access")
            assert access in {"public", "token", "admin", "namespace", "seed"}, where
            responses = operation["responses"]
            assert "422" not in responses, where
            assert any(status.startswith("2") or status == "default" for status in responses), where
            if "/invoke" in path:
                continue  # the tenant's responses pass through; documented in server/openapi.py
            errors = {status: answer for status, answer in responses.items() if status[0] in "45"}
            if access != "public":
                assert {"401", "403"} <= set(errors), where
            if access == "namespace":
                assert "404" in errors, where
            if operation.get("parameters") or operation.get("requestBody"):
                assert "400" in errors, where
            for status, answer in errors.items():
                assert answer["content"]["application/json"]["schema"] == {"$ref": error_ref}, f"{where} {status}"


def test_docs_are_served_without_a_token(live: Server) -> None:
    page = httpx.get(f"{live.url}/docs")
    assert page.status_code == 200
    assert "swagger-ui" in page.text and "/openapi.json" in page.text
    assert "cdn." not in page.text and "https://" not in page.text  # works without internet access
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        served = httpx.get(f"{live.url}/docs/assets/{asset}")
        assert served.status_code == 200 and len(served.content) > 100_000, asset
    assert httpx.get(f"{live.url}/openapi.json").status_code == 200

